from django.core.management.base import BaseCommand

from wangyin.core.masking import mask_account
from wangyin.ops.demo import HISTORY_SIZE, load_demo


class Command(BaseCommand):
    help = "Load the demo bank. Idempotent: running it again creates and posts nothing."

    def add_arguments(self, parser):
        parser.add_argument("--history-size", type=int, default=HISTORY_SIZE,
                            help="historical transactions to generate (default %(default)s)")

    def handle(self, *args, **options):
        self.stdout.write(f"demo bank: loading (a first run posts about {options['history_size']} "
                          "historical transactions, which takes a minute or two)")
        result = load_demo(history_size=options["history_size"])
        if result.created or result.journals_posted:
            self.stdout.write(f"demo bank: created {len(result.created)} records, posted "
                              f"{result.journals_posted} journals")
        else:
            self.stdout.write("demo bank: already loaded, nothing to do")
        self.stdout.write("demo customers:")
        for customer in result.customers:
            accounts = ", ".join(mask_account(a) for a in customer["account"].split(", "))
            self.stdout.write(f"  {customer['name']:<12} {customer['product']:<16} {accounts}")
        self.stdout.write("demo logins (generated for this installation, kept in "
                          "var/keys/demo_logins):")
        for login in result.logins:
            self.stdout.write(f"  {login['who']:<22} {login['where']:<8} {login['login']:<10} "
                              f"password {login['password']}")
        self.stdout.write(f"  staff second factor: TOTP secret {result.totp_base32} (add it "
                          "to an authenticator app; 6 digits, 30 s)")
        for token in result.tokens:
            play = ("wangyin token code, or an authenticator app with this seed"
                    if token["kind"] == "TOTP" else "wangyin token answer QUESTION")
            self.stdout.write(f"  zhangwei's {token['kind']} token {token['serial']}: seed "
                              f"{token['seed']} (play it with: {play})")
        if result.card_pdf:
            self.stdout.write(f"  zhangwei's password card: {result.card_pdf}")
        if result.other_banks:
            self.stdout.write("accounts at other banks (sandbox clearing; `wangyin clearing "
                              "incoming` plays a credit from them):")
            for other in result.other_banks:
                state = " (closed: a payment comes back)" if other["closed"] else ""
                self.stdout.write(f"  {other['name']:<6} {other['account']} "
                                  f"{other['bank']}{state}")
        if result.face_camera:
            self.stdout.write(f"  linademo's face (forgotten-password page): start Chromium with "
                              "--use-fake-device-for-media-stream "
                              f"--use-file-for-fake-video-capture={result.face_camera}")
        if result.usb_key:
            self.stdout.write(f"  zhangwei's USB-Key {result.usb_key['serial']}: PIN "
                              f"{result.usb_key['pin']} (a software key in "
                              f"{result.usb_key['device']}; `make run` starts its U盾 agent)")
        corporate = result.corporate
        if corporate:
            self.stdout.write(f"corporate internet banking of {corporate['company']} "
                              f"({corporate['where']}): service number {corporate['service']}, "
                              "policy: up to ¥100,000 one authorisation, above it one check "
                              "and one authorisation")
            for operator in corporate["operators"]:
                self.stdout.write(
                    f"  {operator['role']:<16} {operator['code']:<7} password "
                    f"{operator['password']}  USB-Key {operator['usb_key']} PIN "
                    f"{operator['pin']}")
            self.stdout.write("  (one U盾 agent holds all the demo keys: its window asks which "
                              "key signs — pick the serial of the operator signed in)")
            payroll = corporate.get("payroll")
            if payroll:
                self.stdout.write(
                    f"  payroll file for a batch payment (pay01: 批量付款 Batch payments): "
                    f"{payroll['file']} — {payroll['rows']} rows, {payroll['errors']} with "
                    f"deliberate mistakes to remove; then {payroll['paid_rows']} rows, "
                    f"{payroll['total']} (chk01 checks, auth01 authorises, the worker pays)")
