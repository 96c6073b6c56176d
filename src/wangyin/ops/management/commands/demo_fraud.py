from django.core.management.base import BaseCommand

from wangyin.ops.fraud import play_fraud


class Command(BaseCommand):
    help = "Play fraud scenarios against the demo bank (run `wangyin demo` first)."

    def handle(self, *args, **options):
        for line in play_fraud():
            self.stdout.write(f"  {line}")
        self.stdout.write("Work the cases at /bo/risk/ as risk01 (branch) or riskhq01 "
                          "(head office); passwords: `wangyin demo`.")
