from django.core.management.base import BaseCommand, CommandError

from wangyin.ledger.selectors import ledger_verify


class Command(BaseCommand):
    help = "Verify the ledger: trial balance, balances, journals, running balances, holds."

    def handle(self, *args, **options):
        report = ledger_verify()
        for problem in report.problems:
            self.stderr.write(f"PROBLEM {problem}")
        summary = (f"ledger verify: {report.accounts} accounts, {report.journals} journals, "
                   f"{report.postings} postings")
        if not report.ok:
            raise CommandError(f"{summary}: {len(report.problems)} problem(s) found")
        self.stdout.write(f"{summary}: OK")
