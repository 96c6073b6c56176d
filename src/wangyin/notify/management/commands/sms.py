from django.core.management.base import BaseCommand, CommandError

from wangyin.core.masking import mask_phone
from wangyin.notify.selectors import sms_inbox


class Command(BaseCommand):
    help = "The SMS sandbox: list the messages the bank has sent (newest first)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["inbox"])
        parser.add_argument("--phone", help="only messages to this number")
        parser.add_argument("--limit", type=int, default=20)

    def handle(self, *args, **options):
        if options["limit"] < 1 or options["limit"] > 1000:
            raise CommandError("--limit must be between 1 and 1000")
        messages = sms_inbox(phone=options["phone"], limit=options["limit"])
        if not messages:
            self.stdout.write("the SMS sandbox inbox is empty")
        for m in messages:
            when = m.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            self.stdout.write(f"{when}  {mask_phone(m.phone)}  {m.status:<6}  "
                              f"[{m.purpose}]  {m.body}")
