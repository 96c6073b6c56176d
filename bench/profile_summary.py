"""Summarise py-spy raw (collapsed) stacks of the bank's web workers.

    python bench/profile_summary.py var/bench-transfers-profile-*.txt [--top 25]

Prints, as shares of all samples: the time under each view and middleware of the bank
(inclusive), coarse categories (SQL round trips, template rendering, session handling,
encryption, …) and the functions with the most self time.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# (label, pattern on a frame "function (file:line)"); the first matching frame from the
# leaf decides the category of a sample.
CATEGORIES = [
    ("SQL: waiting for PostgreSQL / psycopg", re.compile(r"\(psycopg/|\(psycopg_pool/")),
    ("template rendering", re.compile(r"\(django/template/")),
    ("password hashing", re.compile(r"argon2|hashers\.py")),
    ("encryption / blind indexes", re.compile(r"\(cryptography/|wangyin/core/crypto\.py")),
    ("SM3 / audit hashing", re.compile(r"\(wangyin/audit/|gmssl|tongsuo")),
    ("ORM: building SQL and rows", re.compile(r"\(django/db/")),
    ("translation (gettext)", re.compile(r"\(django/utils/translation|gettext\.py")),
    ("forms", re.compile(r"\(django/forms/")),
    ("URL resolving / reverse", re.compile(r"\(django/urls/")),
    (
        "sessions / signing / json",
        re.compile(
            r"\(django/contrib/sessions|signing\.py|"
            r"\(json/"
        ),
    ),
    ("procrastinate (job enqueue)", re.compile(r"\(procrastinate/")),
    ("logging / structlog", re.compile(r"\(structlog/|\(logging/")),
    ("HTTP server", re.compile(r"\(gunicorn/|\(granian/|\(selectors\.py|socket\.py")),
    ("bank code (wangyin/)", re.compile(r"\(wangyin/")),
    ("Django other", re.compile(r"\(django/")),
]
_VIEW = re.compile(r"^(\w+) \(wangyin/web/(\w+)\.py")


def parse(paths: list[Path]) -> list[tuple[list[str], int]]:
    stacks = []
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks.append((stack.split(";"), int(count)))
    return stacks


def summarise(stacks, top: int) -> str:
    total = sum(n for _, n in stacks) or 1
    cats: Counter[str] = Counter()
    views: Counter[str] = Counter()
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    for frames, n in stacks:
        for frame in reversed(frames):
            label = next((lbl for lbl, pat in CATEGORIES if pat.search(frame)), None)
            if label:
                cats[label] += n
                break
        else:
            cats["other"] += n
        own[frames[-1]] += n
        seen = set()
        for frame in frames:
            m = _VIEW.match(frame)
            if m and m.group(2) not in ("middleware",):
                key = f"{m.group(2)}.{m.group(1)}"
                if key not in seen:
                    views[key] += n
                    seen.add(key)
            if "(wangyin/" in frame:
                fn = frame.split(" (")[0] + " (" + frame.split(" (")[1].split(":")[0] + ")"
                if fn not in seen:
                    incl[fn] += n
                    seen.add(fn)
    out = [f"{total} samples"]

    def block(title: str, counter: Counter, k: int) -> None:
        out.append(f"\n{title}")
        for key, n in counter.most_common(k):
            out.append(f"  {100 * n / total:5.1f}%  {key}")

    block("By category (leaf-most matching frame)", cats, len(CATEGORIES) + 1)
    block("Web views and middleware (inclusive)", views, top)
    block("Bank functions (inclusive)", incl, top)
    block("Self time", own, top)
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args()
    print(summarise(parse(args.files), args.top))


if __name__ == "__main__":
    main()
