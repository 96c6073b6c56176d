"""The bank's web server (and SMS worker) as the transfer benchmark runs them.

``gunicorn`` is what ``wangyin run`` starts (gthread workers); ``granian`` is the Rust HTTP
server with the same WSGI application, for comparison. Each runs ``workers`` processes of
``threads`` threads; every thread keeps its own PostgreSQL connection (CONN_MAX_AGE), so
the bank holds workers x threads database connections whatever the number of clients.
The procrastinate worker delivers the SMS the transfers queue (codes and alerts), as in
``wangyin run``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field

import psutil

SERVERS = ("gunicorn", "granian")


@dataclass
class AppServer:
    server: str
    workers: int
    threads: int
    port: int
    env: dict
    sms_worker: bool = True
    # The WSGI application (``bench_norisk:application``: the risk engine stubbed out, for
    # the transfer benchmark's --risk-compare; this directory must be on PYTHONPATH).
    app: str = "wangyin.wsgi:application"
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        py = sys.executable
        if self.server == "gunicorn":
            return [
                py,
                "-m",
                "gunicorn",
                self.app,
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--threads",
                str(self.threads),
                "--worker-class",
                "gthread",
                "--worker-connections",
                "4000",
                "--backlog",
                "4096",
                "--keep-alive",
                "75",
                "--timeout",
                "300",
                "--graceful-timeout",
                "5",
                "--no-control-socket",
            ]
        if self.server == "granian":
            return [
                py,
                "-m",
                "granian",
                "--interface",
                "wsgi",
                self.app,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                "--blocking-threads",
                str(self.threads),
                "--backlog",
                "4096",
                "--no-access-log",
                "--log-level",
                "warning",
            ]
        raise ValueError(f"unknown server {self.server!r}")

    def start(self) -> None:
        self.procs.append(subprocess.Popen(self.argv(), env=self.env))  # noqa: S603
        if self.sms_worker:
            self.procs.append(
                subprocess.Popen(  # noqa: S603
                    [sys.executable, "-m", "wangyin.cli", "manage", "procrastinate", "worker"],
                    env=self.env,
                    stdout=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.procs[0].poll() is not None:
                raise RuntimeError(f"{self.server} exited with {self.procs[0].returncode}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=5) as r:  # noqa: S310
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"{self.server} did not answer /healthz within 120 s")

    def warm(self, paths: list[str]) -> None:
        """Let every worker process import and compile what the pages need."""
        for _ in range(self.workers * 4):
            for path in paths:
                try:
                    urllib.request.urlopen(self.url + path, timeout=30).read()  # noqa: S310
                except OSError:
                    pass

    def pids(self, *, web_only: bool = False) -> list[int]:
        procs = self.procs[:1] if web_only else self.procs
        out = []
        for p in procs:
            try:
                parent = psutil.Process(p.pid)
                out.append(parent.pid)
                out += [c.pid for c in parent.children(recursive=True)]
            except psutil.Error:
                pass
        return out

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time so far of the web server's process tree and of the SMS worker."""
        out = {}
        for name, proc in zip(("web", "sms_worker"), self.procs, strict=False):
            total = 0.0
            try:
                parent = psutil.Process(proc.pid)
                for p in [parent, *parent.children(recursive=True)]:
                    try:
                        t = p.cpu_times()
                        total += t.user + t.system
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            out[name] = total
        return out

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs.clear()


def server_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "WANGYIN_INSECURE_COOKIES": "1",  # plain HTTP on the loopback
            "WANGYIN_LOG_LEVEL": "WARNING",
        }
    )
    return env
