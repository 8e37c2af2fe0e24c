"""The idle program shared smoke-test containers run (local/containers): a valid static executable for each
architecture publisher has one for, that waits in its one system call until a signal ends it; the
other architecture's runs under qemu-user, as an arm64 image's tests do here."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import time
from pathlib import Path

import pytest

from publisher.local.containers import idle_program
from tests.conftest import need

HOST = platform.machine()
# The host system call it waits in: pause (x86_64, native), else ppoll (native aarch64, or qemu's for either).
PPOLL = {"x86_64": 271, "aarch64": 73}


def _syscall(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/syscall").read_text().split()[0]
    except (OSError, IndexError):
        return "gone"


@pytest.mark.skipif(HOST not in PPOLL, reason=f"no idle program for a {HOST} host")
@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_the_idle_program_waits_in_one_system_call_until_a_signal(tmp_path, arch):
    if arch != HOST:
        need(Path(f"/proc/sys/fs/binfmt_misc/qemu-{arch}").exists(), f"no qemu-user for {arch}: run bash .ci/setup")
    program = tmp_path / "idle"
    program.write_bytes(idle_program(arch))
    program.chmod(0o755)
    expected = str(34 if arch == HOST == "x86_64" else PPOLL[HOST])
    with subprocess.Popen([str(program)]) as process:
        deadline = time.monotonic() + 60
        while _syscall(process.pid) != expected and process.poll() is None and time.monotonic() < deadline:
            os.sched_yield()  # polls the process's state; nothing is timed
        waiting = _syscall(process.pid)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == -signal.SIGTERM
    assert waiting == expected
    assert idle_program("s390x") is None and len(idle_program(arch)) < 150
