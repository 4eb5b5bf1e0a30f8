"""The top frames of a py-spy profile, as small text: what a flame graph shows at a glance.

py-spy's `raw` format is one collapsed stack per line ("frame;frame;... count"). Printed:
the frames with the most samples on the stack (inclusive) and at the top of it (self),
each as a share of all samples, with the project's own frames marked.

Run: .venv/bin/python -m benchmarks.profile_top PROFILE.raw [--top 25] [--title TEXT]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# aiosqlite's worker threads wait for work in queue.get(), a C call py-spy cannot tell from
# work: a stack whose top is that wait is idle, and left out.
IDLE = ("_connection_worker_thread (aiosqlite/core.py",)
OURS = re.compile(r"\((?:[^)]*/)?(?:bot|handlers|storage)/")


def read(path: Path) -> list[tuple[list[str], int]]:
    stacks: list[tuple[list[str], int]] = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def short(frame: str) -> str:
    """`handle (telegram/ext/_application.py:123)` without the site-packages prefix and
    the line number, so one function is one row."""
    frame = re.sub(r"\(.*?(?:site-packages|lib/python3\.\d+|perf)/", "(", frame)
    return re.sub(r":\d+\)$", ")", frame)


def top(path: Path, n: int, title: str) -> str:
    every = read(path)
    stacks = [(f, c) for f, c in every if not f or not short(f[-1]).startswith(IDLE)]
    idle = sum(c for _, c in every) - sum(c for _, c in stacks)
    total = sum(c for _, c in stacks) or 1
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, count in stacks:
        names = [short(f) for f in frames]
        for name in set(names):
            inclusive[name] += count
        if names:
            own[names[-1]] += count
    lines = [
        f"# {title}",
        f"# {total} busy samples, {idle} idle aiosqlite-thread samples left out"
        f" (py-spy raw: {path.name})",
        "",
    ]
    for label, counter in (("inclusive (on the stack)", inclusive), ("self (top of stack)", own)):
        lines.append(f"## {label}")
        for name, count in counter.most_common(n):
            mark = "*" if OURS.search(name) else " "
            lines.append(f"{100 * count / total:5.1f}% {mark} {name}")
        lines.append("")
    lines.append("(* = partnerbot's own code)")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--title", default="py-spy profile")
    args = parser.parse_args()
    print(top(args.profile, args.top, args.title), end="")


if __name__ == "__main__":
    main()
