"""Background jobs of corporate banking (procrastinate worker, same PostgreSQL database)."""

from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from wangyin.core import clock
from wangyin.corporate import approvals, execution


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


@app.periodic(cron="*/5 * * * *", periodic_id="corporate-execute-authorised")
@app.task(queue="corporate", name="corporate.execute_authorised", pass_context=False)
def execute_authorised(timestamp: int) -> int:
    """Every five minutes: authorised instructions whose job did not pay them (a lost job,
    a worker that died) are paid."""
    return execution.execute_authorised(now=clock.now())
