"""Race helper for concurrency tests on real PostgreSQL: threads released together, each
on its own database connection (closed when it is done)."""

import threading

from django.db import connections


def race(n, target):
    """Run ``target(i)`` for i in range(n) in n threads started together; returns the
    results and the exceptions by i. Fails if a thread hangs (a deadlock)."""
    barrier, results, errors = threading.Barrier(n), {}, {}

    def run(i):
        try:
            barrier.wait()
            results[i] = target(i)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            errors[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker hung (deadlock?)"
    return results, errors
