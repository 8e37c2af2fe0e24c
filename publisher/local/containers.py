"""One container per image for its smoke tests: started once, each test run in it as `docker run IMAGE ARGS` would.

A test is the container's command: `docker run IMAGE ARGS` runs the image's ENTRYPOINT with ARGS (ARGS
replacing CMD), with the image's environment, user and working directory. `docker exec` takes the
environment, user and working directory from the container (so from the image, as the container is
made with no override of them) but never runs the ENTRYPOINT, so each test's argv is the ENTRYPOINT
followed by the test's arguments: the same process `docker run` starts. stdout and stderr come apart,
and a command that cannot start exits 127 (not found) or 126 (found, not runnable), as `docker run` does.

The container has to stay up between tests with nothing of the image running: its first process is
`IDLE`, a static executable of under 150 bytes made here (ELF, the engine's own architecture, so it runs
natively even in an arm64 container under qemu) that waits for a signal forever. It is copied into
the container before it starts (it works with a remote engine, and in an image with no shell or
`sleep`); a test can see it as the file /.publisher-idle. What differs from one container per test:
the test's process is not PID 1, and a test sees what the tests before it left on the filesystem
(they run in the matrix's order, one at a time).

The engine now and then loses a container's output: a run its caller judges failed that printed nothing
at all, though it started, is run once more (`retried`).
"""

from __future__ import annotations

import io
import struct
import tarfile
from collections.abc import Callable
from dataclasses import dataclass

from publisher.image.platform import machine_platform

IDLE = "/.publisher-idle"
BASE = 0x400000  # where the executable is mapped
_CODE = {
    # mov eax, 34 (pause); syscall; jmp back
    "x86_64": (62, bytes.fromhex("b822000000" "0f05" "ebf7")),
    # mov x0..x3, #0; mov x8, #73 (ppoll, no fds, no timeout: waits for a signal); svc #0; b back
    "aarch64": (183, struct.pack("<7I", 0xD2800000, 0xD2800001, 0xD2800002, 0xD2800003, 0xD2800928,
                                 0xD4000001, 0x17FFFFFA)),
}


def idle_program(architecture: str) -> bytes | None:
    """A static ELF executable for the engine's architecture (as `docker info` names it) that only waits;
    None where there is none for it."""
    platform = machine_platform(architecture)
    found = _CODE.get(platform.machine) if platform else None
    if found is None:
        return None
    machine, code = found
    start = 64 + 56  # the ELF header, then one program header, then the code
    size = start + len(code)
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little-endian, version 1, System V
    header += struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, BASE + start, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    program = struct.pack("<IIQQQQQQ", 1, 5, 0, BASE, BASE, size, size, 0x1000)  # PT_LOAD, read + execute
    return header + program + code


def idle_archive(program: bytes) -> bytes:
    """The tar `put_archive` copies into the container's root: IDLE, mode 755, owned by root."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo(IDLE.lstrip("/"))
        info.size, info.mode = len(program), 0o755
        tar.addfile(info, io.BytesIO(program))
    return out.getvalue()


def exec_argv(config: dict, command: list[str]) -> list[str]:
    """What `docker run IMAGE *command` starts: the image's ENTRYPOINT, then the command, or CMD without one."""
    return [*(config.get("Entrypoint") or []), *(command or config.get("Cmd") or [])]


@dataclass(frozen=True)
class Exited:
    exit_code: int
    stdout: str
    stderr: str
    not_started: str | None = None  # why the container's command never ran, e.g. an image without that file


def not_started(text: str) -> str:
    """The runtime's own reason, without the engine's wrapping: `exec: "sh": executable file not found in $PATH`."""
    return text.strip().rpartition("unable to start container process: ")[2].removesuffix(": unknown").strip()


def retried(run: Callable[[], Exited], passes: Callable[[Exited], bool] | None) -> Exited:
    """`run`'s result, run once more when `passes` (the caller's verdict) fails it and it printed nothing at
    all, though it started: the engine now and then loses a container's output (dockerd logs "copy stream
    failed: reading from a closed fifo"; about 1 run in 80 on Docker 28 with containerd 1.6, on either
    image store). Without `passes` (nothing judged), run once."""
    result = run()
    if passes is None or passes(result) or result.stdout or result.stderr or result.not_started:
        return result
    return run()


class PerTest:
    """An image's tests, one container each (`docker run --rm` as it always was): `why` they do not share one."""

    def __init__(self, engine, image: str, why: str):
        self.engine, self.image, self.why = engine, image, why

    def run(self, command: list[str], passes: Callable[[Exited], bool] | None = None) -> Exited:
        """What `docker run IMAGE *command` gives; once more where its output was lost (`retried`)."""
        return retried(lambda: self.engine.run(self.image, command), passes)

    def close(self) -> None:
        pass


class Shared:
    """An image's container, up with only IDLE running: each test is one exec in it (see the module's docstring).
    Should the container go away, the rest of the tests get one container each."""

    why = None

    def __init__(self, engine, image: str, container, config: dict):
        self.engine, self.image, self.container, self.config = engine, image, container, config
        self.api = container.client.api

    def run(self, command: list[str], passes: Callable[[Exited], bool] | None = None) -> Exited:
        """What `docker run IMAGE *command` gives, run in the container; once more where its output was lost (`retried`)."""
        return retried(lambda: self._once(command), passes)

    def _once(self, command: list[str]) -> Exited:
        if self.container is None:
            return self.engine.run(self.image, command)
        try:
            created = self.api.exec_create(self.container.id, exec_argv(self.config, command))
            out, err = self.api.exec_start(created["Id"], demux=True)
            found = self.api.exec_inspect(created["Id"])
        except self.engine.errors.APIError:
            self.close()
            return self.engine.run(self.image, command)
        out, err = (out or b"").decode(errors="replace"), (err or b"").decode(errors="replace")
        if not found.get("Pid"):  # the runtime could not start it, and said why on the exec's stream
            return Exited(found["ExitCode"], "", "", not_started(out + err))
        return Exited(found["ExitCode"], out, err)

    def close(self) -> None:
        if self.container is not None:
            self.container.remove(force=True, v=True)
            self.container = None
