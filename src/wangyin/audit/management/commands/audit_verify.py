from django.core.management.base import BaseCommand, CommandError

from wangyin.audit.selectors import audit_verify


class Command(BaseCommand):
    help = "Verify every hash chain of the audit log; exit 1 and name each broken row."

    def handle(self, *args, **options):
        report = audit_verify()
        for problem in report.problems:
            self.stderr.write(f"PROBLEM {problem}")
        summary = f"audit verify: {report.events} events in {report.chains} chains"
        if not report.ok:
            raise CommandError(f"{summary}: {len(report.problems)} problem(s) found")
        self.stdout.write(f"{summary}: OK")
