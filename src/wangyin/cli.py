"""The ``wangyin`` command: one front door to the bank's management commands.

    wangyin run              database + migrations + demo data + web server + worker
    wangyin demo             load the demo bank (idempotent)
    wangyin demo fraud       play fraud scenarios for the risk desk
    wangyin ledger verify    trial balance, account balances, journals
    wangyin audit verify     hash chains of the audit log
    wangyin compliance       requirement -> tests -> last result matrix
    wangyin sms inbox        the SMS sandbox: what the bank has sent
    wangyin token code|answer  the demo customer's tokens, played in software
    wangyin face register    the face-verification sandbox: a customer's ID photo
    wangyin banks load       the bank directory (CNAPS bank codes) from a CSV file
    wangyin calendar load|show  the business calendar (public holidays, make-up working days)
    wangyin fees [FILE]      check a transfer fee schedule and print what it charges
    wangyin clearing ...     interbank clearing: reconcile; the sandbox (run, incoming)
    wangyin aml run --day D  AML: a day's large-value report lines and suspicious alerts
    wangyin risk rules show  the live rule set (or --version N)
    wangyin manage ARGS...   any Django management command
"""

from __future__ import annotations

import os
import sys

import click


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangyin.settings")
    import django

    django.setup()


def _call(name: str, *args: str) -> None:
    _django()
    from django.core.management import call_command
    from django.core.management.base import CommandError

    try:
        call_command(name, *args)
    except CommandError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    except SystemExit:
        raise


@click.group(help=__doc__)
def main() -> None:
    pass


@main.command(help="Start everything: database, migrations, demo data, web server, worker.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-demo", is_flag=True, help="Do not load the demo bank.")
def run(host: str, port: int, no_demo: bool) -> None:
    from wangyin.ops.runner import run_all

    sys.exit(run_all(host=host, port=port, load_demo=not no_demo))


@main.group(invoke_without_command=True,
            help="Load the demo bank (running it twice changes nothing).")
@click.pass_context
def demo(ctx: click.Context) -> None:
    if ctx.invoked_subcommand is None:
        _call("demo")


@demo.command("fraud", help="Play fraud scenarios against the demo bank (held payments, a "
              "blocked IP, impossible travel, a mule account) for the risk desk to work.")
def demo_fraud() -> None:
    _call("demo_fraud")


@main.group(help="Ledger maintenance.")
def ledger() -> None:
    pass


@ledger.command("verify", help="Check the trial balance, every balance and every journal.")
def ledger_verify() -> None:
    _call("ledger_verify")


@main.group(help="Audit log maintenance.")
def audit() -> None:
    pass


@audit.command("verify", help="Check every hash chain of the audit log.")
def audit_verify() -> None:
    _call("audit_verify")


@main.group(help="The SMS sandbox.")
def sms() -> None:
    pass


@sms.command("inbox", help="List the messages the bank has sent, newest first.")
@click.option("--phone", help="Only messages to this number.")
@click.option("--limit", default=20, show_default=True, type=int)
def sms_inbox(phone: str | None, limit: int) -> None:
    _call("sms", "inbox", *(["--phone", phone] if phone else []), "--limit", str(limit))


@main.group(help="Play a hardware token in software (the demo customer's, or --seed).")
def token() -> None:
    pass


def _demo_seed(name: str) -> str:
    from wangyin.ops.demo import demo_token_seed

    return demo_token_seed(name)


@token.command("code", help="The current code of a time-based OTP token.")
@click.option("--seed", help="Base32 seed (default: zhangwei's demo OTP token).")
def token_code(seed: str | None) -> None:
    _django()
    import pyotp

    click.echo(pyotp.TOTP(seed or _demo_seed("demo_token")).now())


@token.command("answer", help="A challenge-response token's answer to QUESTION.")
@click.argument("question")
@click.option("--seed", help="Base32 seed (default: zhangwei's demo challenge-response "
              "token).")
def token_answer(question: str, seed: str | None) -> None:
    _django()
    from django.utils import timezone

    from wangyin.authn.tokens import ocra_response

    if not question.isdigit() or len(question) > 16:
        click.echo("the question is up to 16 digits", err=True)
        sys.exit(2)
    click.echo(ocra_response(seed or _demo_seed("demo_ocra"), question, timezone.now()))


@main.group(help="The face-verification sandbox (WANGYIN_FACE_VERIFIER=sandbox).")
def face() -> None:
    pass


@face.command("register", help="Make PICTURE (JPEG or PNG) the ID photo that the sandbox "
              "compares LOGIN's face with. The sandbox compares pictures, not faces: take "
              "it with the camera you will verify with.")
@click.argument("login")
@click.argument("picture", type=click.Path(exists=True, dir_okay=False))
def face_register(login: str, picture: str) -> None:
    _django()
    from pathlib import Path

    from django.conf import settings
    from django.utils import timezone

    from wangyin.authn.face import sandbox_register
    from wangyin.identity.models import ChannelUser

    if settings.FACE_VERIFIER != "sandbox":
        click.echo("the bank does not use the face-verification sandbox", err=True)
        sys.exit(1)
    user = ChannelUser.objects.select_related("person").filter(login_name=login).first()
    if user is None:
        click.echo(f"no internet banking login {login!r}", err=True)
        sys.exit(1)
    person = user.person
    try:
        sandbox_register(id_type=person.id_type, id_number=person.id_number, name=person.name,
                         picture=Path(picture).read_bytes(), at=timezone.now())
    except ValueError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    click.echo(f"registered the ID photo of {person.masked_name} ({login})")


def _load_data(load, refused: type[Exception]) -> None:
    """Run a data file's all-or-nothing load: its counts, or why the file was refused."""
    try:
        counts = load()
    except refused as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    click.echo(", ".join(f"{n} {what}" for what, n in counts.items()))


@main.group(help="The bank directory (CNAPS bank codes).")
def banks() -> None:
    pass


@banks.command("load", help="Load the directory from FILE (CSV: code,name,bank_name,city; "
               "default: the demo directory). All or nothing; codes missing from the file "
               "are deactivated.")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
def banks_load(file: str | None) -> None:
    _django()
    from wangyin.payments import directory

    _load_data(lambda: directory.banks_load(file or directory.DEMO_DIRECTORY),
               directory.DirectoryError)


@main.group("calendar", help="The bank's business calendar: public holidays and make-up "
            "working days (调休).")
def calendar_group() -> None:
    pass


@calendar_group.command("load", help="Load the calendar from FILE (CSV: date,working,name; "
                        "default: the shipped calendar-cn.csv). All or nothing; the file "
                        "replaces every year it names. Running it twice changes nothing.")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
def calendar_load(file: str | None) -> None:
    _django()
    from wangyin.core import calendar

    _load_data(lambda: calendar.calendar_load(file or calendar.SHIPPED_CALENDAR),
               calendar.CalendarError)


@calendar_group.command("show", help="Print the holidays and make-up working days of YEAR.")
@click.argument("year", type=click.IntRange(1900, 2999))
def calendar_show(year: int) -> None:
    _django()
    from wangyin.core import calendar

    days = calendar.calendar_year(year)
    if not days:
        click.echo(f"no days loaded for {year}: Monday to Friday are taken as working days")
        sys.exit(1)
    weekdays = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    for day in days:
        click.echo(f"{day.date.isoformat()} {weekdays[day.date.weekday()]} "
                   f"{'working' if day.working else 'holiday'} {day.name}")


@main.command("fees", help="Check a transfer fee schedule FILE (default: the one in force, "
              "WANGYIN_FEE_SCHEDULE) and print what it charges.")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
def fees_check(file: str | None) -> None:
    _django()
    from pathlib import Path

    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from wangyin.core.money import Money, format_money
    from wangyin.payments import fees

    try:
        schedule = fees.parse(Path(file or settings.FEE_SCHEDULE_FILE).read_text("utf-8"))
    except ImproperlyConfigured as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    def yuan(fen: int) -> str:
        return format_money(Money(fen))

    for (segment, kind), tiers in sorted(schedule.tiers.items()):
        for tier in tiers or ():
            upto = "any amount" if tier.up_to_fen is None else f"up to {yuan(tier.up_to_fen)}"
            cap = "" if tier.max_fen is None else f", at most {yuan(tier.max_fen)}"
            click.echo(f"{segment} {kind}: {upto}: {yuan(tier.fixed_fen)} + {tier.rate} "
                       f"of the amount{cap}")
        if not tiers:
            click.echo(f"{segment} {kind}: free")


@main.group(help="Interbank clearing.")
def clearing() -> None:
    pass


@clearing.command("reconcile", help="Complete messages stuck between steps and check the "
                  "clearing suspense account (the worker does this every minute).")
def clearing_reconcile() -> None:
    _django()
    from wangyin.core import clock
    from wangyin.payments import settlement

    report = settlement.clearing_reconcile(now=clock.now())
    click.echo(f"sent {report.sent}, completed {report.completed}, clearing unavailable "
               f"{report.unavailable}, suspense difference {report.suspense_difference_fen} fen")
    sys.exit(1 if report.suspense_difference_fen else 0)


@clearing.command("run", help="Sandbox: take every step that is due now (the worker does "
                  "this when steps fall due).")
def clearing_run() -> None:
    _django()
    from wangyin.core import clock
    from wangyin.payments import sandbox

    click.echo(f"{sandbox.run_due(now=clock.now())} step(s) delivered")


@clearing.command("incoming", help="Sandbox: another bank pays AMOUNT yuan into ACCOUNT "
                  "of this bank (delivered by the worker after the channel's delay).")
@click.argument("account")
@click.argument("amount")
@click.option("--payee-name", required=True, help="The name the sender gives for the payee.")
@click.option("--payer-name", default="赵六", show_default=True)
@click.option("--payer-account", default="6222020000000001234", show_default=True)
@click.option("--payer-bank", default="102428000013", show_default=True)
@click.option("--memo", default="")
def clearing_incoming(account: str, amount: str, payee_name: str, payer_name: str,
                      payer_account: str, payer_bank: str, memo: str) -> None:
    _django()
    from django.conf import settings

    from wangyin.core import clock
    from wangyin.core.errors import DomainError
    from wangyin.core.money import Money
    from wangyin.payments import sandbox

    if settings.CLEARING_ADAPTER != "sandbox":
        click.echo("the bank does not use the sandbox clearing system", err=True)
        sys.exit(1)
    try:
        fen = Money.from_yuan(amount).fen
        msg_id = sandbox.credit_incoming(
            payer_name=payer_name, payer_account=payer_account, payer_bank=payer_bank,
            payee_account=account, payee_name=payee_name, amount_fen=fen, memo=memo,
            at=clock.now())
    except (ValueError, DomainError) as exc:
        click.echo(f"not a payable amount: {amount} ({exc})", err=True)
        sys.exit(2)
    click.echo(f"credit {msg_id} queued in the sandbox clearing system")


@main.group(help="Risk control.")
def risk() -> None:
    pass


@risk.group("rules", help="Rule sets (changed only in the back office, under maker–checker).")
def risk_rules() -> None:
    pass


@risk_rules.command("show", help="Print the live rule set, or version N with --version.")
@click.option("--version", "version", type=int, default=None, help="A version number.")
def risk_rules_show(version: int | None) -> None:
    _django()
    from wangyin.risk import rules
    from wangyin.risk.models import RuleSet

    if version is None:
        rules.live()  # installs the shipped pack when the bank has no live set
        rule_set = RuleSet.objects.get(status="LIVE")
    else:
        rule_set = RuleSet.objects.filter(version=version).first()
        if rule_set is None:
            click.echo(f"no rule set v{version}", err=True)
            sys.exit(1)
    when = f" live from {rule_set.live_from:%Y-%m-%d %H:%M}" if rule_set.live_from else ""
    click.echo(f"rule set v{rule_set.version} {rule_set.status}: made by {rule_set.created_by}"
               f", approved by {rule_set.decided_by or '-'}{when}")
    for rule in rule_set.rules.order_by("priority", "code"):
        click.echo(f"{rule.priority:>5} {rule.code:<28} {rule.family:<9} {rule.action:<7} "
                   f"{rule.score:>3} {'on ' if rule.enabled else 'off'} {rule.expression}")


@main.group(help="Anti-money laundering: large-value and suspicious-transaction reports.")
def aml() -> None:
    pass


@aml.command("run", help="Generate the large-value report lines and the suspicious-"
             "transaction alerts of DAY (Beijing time; the day must be over). Running a day "
             "again adds nothing (the worker runs yesterday every night).")
@click.option("--day", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="YYYY-MM-DD")
def aml_run(day) -> None:
    _django()
    from wangyin.aml import services
    from wangyin.aml.errors import DayNotOver
    from wangyin.core import clock

    try:
        run = services.aml_run(day=day.date(), at=clock.now())
    except DayNotOver:
        click.echo(f"{day.date().isoformat()} is not over yet", err=True)
        sys.exit(2)
    click.echo(f"{run.day.isoformat()}: large-value report lines {run.large_value.created} "
               f"new, {run.large_value.existing} already there; suspicious alerts "
               f"{run.alerts.created} new, {run.alerts.existing} already there")


@main.command(help="Print the compliance matrix and write docs/compliance.md.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def compliance(as_json: bool) -> None:
    _call("compliance", *(["--json"] if as_json else []))


@main.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    help="Run any Django management command.",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def manage(args: tuple[str, ...]) -> None:
    _django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["wangyin", *args])


if __name__ == "__main__":
    main()
