"""``wangyin run``: start the database (if embedded), prepare it, serve web and worker.

Children get an explicit ``DATABASE_URL`` so only this process owns the embedded server;
Ctrl-C (or SIGTERM) stops the children first, then the server stops when this process
exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click


def _usb_key_agent(python: str, host: str, port: int, env: dict) -> list[subprocess.Popen]:
    """One U盾 agent holding every demo software USB-Key (zhangwei's, and those of the demo
    company's administrator and operators), like several keys plugged into one machine:
    the key's own window asks which key signs. Started as a customer would run it next to
    their browser. Optional: if its port is taken the bank runs without it."""
    from django.conf import settings

    from wangyin.ops.demo import demo_usb_key_paths

    devices = demo_usb_key_paths()
    if not devices:
        return []
    agent_port = settings.USBKEY_AGENT_URL.rsplit(":", 1)[-1]
    origins = sorted({f"http://{host}:{port}", f"http://localhost:{port}",
                      f"http://127.0.0.1:{port}"})
    argv = [python, "-m", "wangyin_sdk.agent", "serve", "--port", agent_port]
    for device in devices:
        argv += ["--device", str(device)]
    for origin in origins:
        argv += ["--origin", origin]
    click.echo(f"  U盾 agent ({len(devices)} demo software USB-Keys: zhangwei's and the demo "
               f"company's operators'): {settings.USBKEY_AGENT_URL}")
    return [subprocess.Popen(argv, env=env)]  # noqa: S603 - fixed argv, no shell


def run_all(*, host: str, port: int, load_demo: bool) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wangyin.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from wangyin.core import embedded_db

    env = dict(os.environ)
    if not os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = embedded_db.app_database_url()
        click.echo(f"PostgreSQL (embedded): {embedded_db.pgdata_dir()}")
    else:
        click.echo("PostgreSQL: DATABASE_URL")

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    if load_demo:
        call_command("demo")
    env.setdefault("WANGYIN_INSECURE_COOKIES", "1" if host in ("127.0.0.1", "localhost") else "0")

    python = sys.executable
    children = [
        subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [
                python, "-m", "gunicorn", "wangyin.wsgi:application",
                "--bind", f"{host}:{port}", "--workers", "2", "--threads", "4",
                "--access-logfile", "-", "--graceful-timeout", "5",
            ],
            env=env,
        ),
        subprocess.Popen(  # noqa: S603
            [python, "-m", "wangyin.cli", "manage", "procrastinate", "worker"], env=env
        ),
    ]
    optional = _usb_key_agent(python, host, port, env) if load_demo else []
    click.echo("")
    click.echo(f"  Wangyin Bank is running: http://{host}:{port}/")
    click.echo(f"  Health check:            http://{host}:{port}/healthz")
    click.echo("  Background worker:       procrastinate (same database)")
    click.echo("  Press Ctrl-C to stop everything, the database included.")
    click.echo("")

    stopping = False

    def stop(signum, frame):  # noqa: ARG001
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for child in children:
            if child.poll() is not None:
                click.echo(f"a child process exited with status {child.returncode}", err=True)
                stopping, exit_code = True, 1
        time.sleep(0.5)
    children += optional
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 10
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    from django.db import connections

    connections.close_all()
    click.echo("stopped.")
    return exit_code
