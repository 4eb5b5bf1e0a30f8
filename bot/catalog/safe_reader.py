"""Reading an uploaded programme file in a separate, limited process.

`read_rows_safely` is what the bot and the command line call. bot.program_files bounds a
file's shape before any per-cell work, but what a hostile file costs still depends on
parsers we do not own (libyaml, openpyxl, expat). So the parse runs in a child process:
- off the event loop, and off the GIL: a thread would still stall every other user;
- under a time limit (READ_TIMEOUT, 20 s, wall clock): then the child is killed;
- under a memory limit (MEMORY_LIMIT, 512 MB of address space, RLIMIT_AS), plus a CPU
  limit a little above the time limit, so a child orphaned by a crash of the bot dies too;
- one at a time per bot process, so two uploads never hold 1 GB between them;
- with none of the bot's settings in its environment (no token, no database URL).
A timeout, a MemoryError, a crash or an oversized answer all end in the same refusal, "too
complex to read", and nothing is imported. A fresh child per file (about 0.3 s to start)
means nothing is left to replace or shut down: a cancelled read kills its child.

The child answers with a pickle of plain values that is loaded with only the classes such
values need (datetime's), so even a child that had been subverted could not make the bot
run anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import io
import logging
import math
import os
import pickle
import sys
import weakref
from pathlib import Path
from typing import Any

from bot.catalog.files import MAX_BYTES, RawRow, Table, read_rows
from bot.formats.spreadsheets import FileError, FileFormat

log = logging.getLogger(__name__)

READ_TIMEOUT = 20.0  # seconds
MEMORY_LIMIT = 512 * 1024 * 1024  # bytes of address space for the child
MAX_ANSWER = 128 * 1024 * 1024  # bytes of pickle: MAX_TEXT_CHARS of Chinese is 15 MB
MAX_STDERR = 64 * 1024
CHILD_MODULE = "bot.catalog.safe_reader"
# What the interpreter may need to start; nothing of the bot's configuration.
_CHILD_ENV = ("PATH", "LD_LIBRARY_PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "PYTHONPATH")

_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


class _TooMuch(Exception):
    """The child wrote more than it may."""


async def read_rows_safely(
    data: bytes,
    fmt: FileFormat,
    *,
    time_limit: float = READ_TIMEOUT,
    memory: int = MEMORY_LIMIT,
) -> Table:
    """read_rows in a child process with limits; raises FileError as read_rows does."""
    if len(data) > MAX_BYTES:  # no process for a file refused by its size
        raise FileError("files.too_big", limit=MAX_BYTES // (1024 * 1024))
    too_complex = FileError(
        "files.too_complex", seconds=math.ceil(time_limit), megabytes=memory // (1024 * 1024)
    )
    loop = asyncio.get_running_loop()
    gate = _gates.setdefault(loop, asyncio.Semaphore(1))
    async with gate:
        answer = await _run_child(data, fmt, time_limit, memory)
    if answer is None:
        raise too_complex
    try:
        kind, payload = _load(answer)
        if kind == "error":
            key, values = payload
            if key == "files.too_complex":
                raise too_complex
            raise FileError(str(key), **dict(values))
        return Table(fmt, [_row(number, values) for number, values in payload])
    except (pickle.UnpicklingError, ValueError, TypeError, EOFError) as exc:
        log.error("the file reader's answer is not understood: %s", exc)
        raise too_complex from None


async def _run_child(data: bytes, fmt: FileFormat, time_limit: float, memory: int) -> bytes | None:
    """The child's pickled answer, or None when it was killed or failed (logged)."""
    cpu_seconds = int(time_limit) + 5
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", CHILD_MODULE, fmt.value, str(memory), str(cpu_seconds),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_child_env(),
        )  # fmt: skip
    except OSError as exc:  # no process to be had (EAGAIN, ENOMEM): refuse, do not crash
        log.error("cannot start the file reader: %s", exc)
        return None
    try:
        answer, errors = await asyncio.wait_for(_talk(process, data), time_limit)
    except TimeoutError:
        log.warning("reading a %s file took more than %.0f s: stopped", fmt.value, time_limit)
        return None
    except _TooMuch:
        log.warning(
            "the %s file reader answered more than %d bytes: stopped", fmt.value, MAX_ANSWER
        )
        return None
    finally:
        if process.returncode is None:  # timed out, too talkative, or we were cancelled
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    if process.returncode != 0:
        last = errors.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        log.warning(
            "the %s file reader failed (exit status %s): %s",
            fmt.value,
            process.returncode,
            last[0][:300],
        )
        return None
    return answer


async def _talk(process: asyncio.subprocess.Process, data: bytes) -> tuple[bytes, bytes]:
    assert process.stdin is not None and process.stdout is not None
    assert process.stderr is not None
    stdin = process.stdin

    async def feed() -> None:
        try:
            stdin.write(data)
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the child died early; its exit status says why
        finally:
            stdin.close()

    _, answer, errors = await asyncio.gather(
        feed(),
        _read(process.stdout, MAX_ANSWER, strict=True),
        _read(process.stderr, MAX_STDERR, strict=False),
    )
    await process.wait()
    return answer, errors


async def _read(stream: asyncio.StreamReader, limit: int, *, strict: bool) -> bytes:
    """Everything the stream gives, up to `limit` bytes; beyond it, raise (strict) or drop."""
    kept = bytearray()
    while chunk := await stream.read(1024 * 1024):
        if len(kept) + len(chunk) > limit:
            if strict:
                raise _TooMuch
            chunk = chunk[: max(0, limit - len(kept))]
        kept += chunk
    return bytes(kept)


def _child_env() -> dict[str, str]:
    env = {name: os.environ[name] for name in _CHILD_ENV if name in os.environ}
    # The folder that holds the `bot` package, so the child imports this very code.
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (root, env.get("PYTHONPATH"))))
    return env


_ALLOWED = {("datetime", name) for name in ("datetime", "date", "time", "timedelta", "timezone")}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return getattr(datetime, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not expected from the file reader")


def _row(number: object, values: object) -> RawRow:
    """A row as read_rows makes them; anything else means the child is not ours."""
    if not isinstance(number, int) or not (values is None or isinstance(values, dict)):
        raise ValueError("a row of an unexpected shape")
    return RawRow(number, values)


def _load(answer: bytes) -> tuple[str, Any]:
    kind, payload = _Unpickler(io.BytesIO(answer)).load()
    if kind not in ("rows", "error"):
        raise ValueError(f"unknown answer {kind!r}")
    return str(kind), payload


# --- The child ------------------------------------------------------------------------------


def _child(args: list[str]) -> int:
    import resource

    fmt, memory, cpu_seconds = FileFormat(args[0]), int(args[1]), int(args[2])

    def lower(which: int, value: int) -> None:
        # Only ever lowered: an operator's own, stricter limit stays.
        soft, hard = resource.getrlimit(which)
        value = min([value] + [v for v in (soft, hard) if v != resource.RLIM_INFINITY])
        resource.setrlimit(which, (value, value))

    lower(resource.RLIMIT_AS, memory)
    lower(resource.RLIMIT_CPU, cpu_seconds)  # the parent's clock is the one that counts
    lower(resource.RLIMIT_CORE, 0)  # no 512 MB core files
    data = sys.stdin.buffer.read(MAX_BYTES + 1)
    answer: tuple[str, Any]
    try:
        table = read_rows(data, fmt)
        answer = ("rows", [(row.number, row.values) for row in table.rows])
    except FileError as exc:
        answer = ("error", (exc.key, exc.values))
    except MemoryError:
        answer = ("error", ("files.too_complex", {}))
    sys.stdout.buffer.write(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
