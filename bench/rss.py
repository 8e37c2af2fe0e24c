"""Peak memory of each side: its client command's (from the kernel, when it is reaped) and its engine's.

A command runs under this file as a small parent (`measured`): it forks the command, waits for it with
wait4 and writes its `ru_maxrss`, the largest resident set the command reached (or any child it
waited for: publisher's docker CLI runs, bake's). It cannot be the bench itself that waits: a child
starts with its parent's high-water mark (Linux records the forked copy's at exec), and the bench
holds more than publisher does. `engine_peaks` reads VmHWM, the resident high-water mark, of the bench
engine's dockerd and of the containerd it started: each engine starts afresh for a cold side, so the
mark is that side's.

    python bench/rss.py RECORD COMMAND...   # runs COMMAND; its peak RSS in KB into RECORD; its exit code
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str
    peak_mb: float


def measured(argv: list[str]) -> tuple[list[str], Path]:
    """`argv` run under this file, and where its peak RSS will be: read it with `peak` once it exited."""
    handle, record = tempfile.mkstemp(prefix="bench-rss-")
    os.close(handle)
    return [sys.executable, str(Path(__file__).resolve()), record, *argv], Path(record)


def peak(record: Path) -> float:
    """The peak RSS in MB a `measured` command wrote (0 if it wrote none)."""
    text = record.read_text().strip() if record.exists() else ""
    record.unlink(missing_ok=True)
    return round(int(text) / 1024, 1) if text else 0.0


def run(argv: list[str], **kwargs) -> Ran:
    """subprocess.run(argv, capture_output=True, text=True), with the command's peak RSS."""
    argv, record = measured(argv)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.run(argv, stdout=out, stderr=err, **kwargs)
        out.seek(0)
        err.seek(0)
        return Ran(process.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"), peak(record))


def _status(pid: int) -> dict[str, str]:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _status(int(entry.name)).get("PPid") == str(pid):
            found.append(int(entry.name))
    return found


def engine_peaks(pid: int | None) -> dict[str, float]:
    """dockerd's VmHWM in MB, and its containerd's (a child of dockerd)."""
    if pid is None:
        return {}
    found = {}
    for process in (pid, *_children(pid)):
        status = _status(process)
        name = status.get("Name", "")
        if name in ("dockerd", "containerd") and "VmHWM" in status:
            found[name] = round(int(status["VmHWM"].split()[0]) / 1024, 1)
    return found


def _main() -> int:
    record, argv = sys.argv[1], sys.argv[2:]
    child = os.fork()
    if child == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    for number in (signal.SIGTERM, signal.SIGINT):  # a stopped bench stops the command too
        signal.signal(number, lambda n, _: os.kill(child, n))
    _, status, usage = os.wait4(child, 0)
    Path(record).write_text(str(usage.ru_maxrss))
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(_main())
