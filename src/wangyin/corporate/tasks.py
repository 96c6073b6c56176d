"""Background jobs of corporate banking (procrastinate worker, same PostgreSQL database)."""

from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from wangyin.core import clock
from wangyin.corporate import approvals, execution, reconciliation


@app.periodic(cron="*/10 * * * *", periodic_id="corporate-expire-instructions")
@app.task(queue="corporate", name="corporate.expire_instructions", pass_context=False)
def expire_instructions(timestamp: int) -> int:
    """Every ten minutes: payment instructions not approved in time expire (reserved money
    released)."""
    return approvals.expire_due(now=clock.now())


@app.task(queue="corporate", name="corporate.execute_instruction", pass_context=False,
          retry=RetryStrategy(max_attempts=5, exponential_wait=2))
def execute_instruction(instruction_id: int) -> str:
    """Pay an instruction just authorised (deferred in its last authorisation's
    transaction). Running it again — a retry, the sweep — never pays twice."""
    instruction = execution.instruction_execute(instruction_id, clock.now())
    return instruction.status if instruction is not None else "gone"


@app.task(queue="corporate", name="corporate.execute_batch", pass_context=False,
          retry=RetryStrategy(max_attempts=5, exponential_wait=2))
def execute_batch(instruction_id: int) -> str:
    """One run over an authorised batch (``corporate.batches``): up to a chunk of rows
    paid, each once; another run deferred while rows are left."""
    from wangyin.corporate import batches

    instruction = batches.batch_run(instruction_id, clock.now())
    return instruction.status if instruction is not None else "gone"


@app.periodic(cron="*/5 * * * *", periodic_id="corporate-execute-authorised")
@app.task(queue="corporate", name="corporate.execute_authorised", pass_context=False)
def execute_authorised(timestamp: int) -> int:
    """Every five minutes: authorised instructions whose job did not pay them (a lost job,
    a worker that died) are paid."""
    return execution.execute_authorised(now=clock.now())


# Cron times are UTC: 17:10 UTC is 01:10 in Beijing, the month's first minutes past.
@app.periodic(cron="10 17 * * *", periodic_id="corporate-issue-statements")
@app.task(queue="corporate", name="corporate.issue_statements", pass_context=False)
def issue_statements(timestamp: int) -> int:
    """Daily: last month's balance statements (银企对账, FC-07) — issued on the 1st,
    Beijing time; later runs issue only any that were missed (idempotent)."""
    now = clock.now()
    return reconciliation.statements_issue(reconciliation.previous_month(now), now)


# 01:30 UTC is 09:30 in Beijing.
@app.periodic(cron="30 1 * * *", periodic_id="corporate-statement-reminders")
@app.task(queue="corporate", name="corporate.statement_reminders", pass_context=False)
def statement_reminders(timestamp: int) -> int:
    """Daily: companies are reminded by SMS of balance statements they have not answered."""
    return reconciliation.reminders_send(clock.now())


@app.periodic(cron="*/10 * * * *", periodic_id="corporate-expire-link-requests")
@app.task(queue="corporate", name="corporate.expire_link_requests", pass_context=False)
def expire_link_requests(timestamp: int) -> int:
    """Every ten minutes: requests to link an account online (ON-05) not confirmed in time
    expire (also settled before any action on them)."""
    from wangyin.corporate import groups

    return groups.link_requests_expire(clock.now())
