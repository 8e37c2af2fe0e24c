"""An image's smoke tests in one shared container give what one `docker run` per test gives: the same
exit code, stdout, stderr and reason not to start, through the image's ENTRYPOINT, as its user, in its
working directory, with its environment; on both image stores, arm64 under qemu, and in an image
without a shell.

The images are made with `docker import` from busybox (or nothing at all), not by publisher.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from publisher.local.engine import Engine
from tests.engines import on_both_stores
from tests.images import need_busybox

pytestmark = pytest.mark.docker
PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n"
APPLETS = ("sh", "env", "id", "pwd", "echo", "hostname", "uname", "ls", "cat")


def _image(tag: str, platform: str, changes: list[str], busybox: bool = True) -> str:
    """An image imported from a tar (busybox and its applets, or only /etc/passwd), with these config changes."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        files = [("etc/passwd", PASSWD, 0o644, None)]
        if busybox:
            files += [("bin/busybox", need_busybox(platform).read_bytes(), 0o755, None)]
            files += [(f"bin/{a}", b"", 0o777, "busybox") for a in APPLETS]
        for name, data, mode, link in files:
            info = tarfile.TarInfo(name)
            info.mode, info.size = mode, len(data)
            if link:
                info.type, info.linkname, info.size = tarfile.SYMTYPE, link, 0
            tar.addfile(info, io.BytesIO(data) if not link else None)
    name = f"publisher-test/smoke-containers:{tag}-{platform.split('/')[1]}"
    argv = ["docker", "import", "--platform", platform, *(a for c in changes for a in ("--change", c)), "-", name]
    subprocess.run(argv, input=out.getvalue(), check=True, capture_output=True)
    return name


def _seen(exited) -> tuple:
    """What a verdict reads of a run; HOSTNAME (the container's ID) differs from one container to another."""
    stdout = "\n".join(line for line in exited.stdout.split("\n") if not line.startswith("HOSTNAME="))
    return exited.exit_code, stdout, exited.stderr, exited.not_started


def _both_ways(engine: Engine, image: str, commands: list[list[str]]) -> None:
    alone = [engine.run(image, command) for command in commands]
    shared = engine.containers(image, len(commands))
    try:
        assert shared.why is None
        together = [shared.run(command) for command in commands]
        names = [shared.run(["hostname"]).stdout for _ in range(2)]
    finally:
        shared.close()
    assert [_seen(r) for r in together] == [_seen(r) for r in alone]
    assert names[0] == names[1]  # one container


@on_both_stores
@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
def test_shared_container_runs_each_test_as_its_own_container_would(store, platform):
    engine = Engine(log=lambda *_: None)
    plain = _image("plain", platform, ["ENV PATH=/bin FOO=bar", "USER nobody", "WORKDIR /w"])
    _both_ways(engine, plain, [["env"], ["id"], ["pwd"], ["uname", "-m"], ["sh", "-c", "echo out; echo err >&2; exit 7"],
                               ["nosuch"], ["/etc/passwd"], ["sh", "-c", "touch /w/x 2>&1; echo $HOME"]])
    entrypoint = _image("entrypoint", platform, ["ENV PATH=/bin", 'ENTRYPOINT ["/bin/sh", "-c", "echo ep:$0:$@; exit 3"]',
                                                 'CMD ["ignored"]'])
    _both_ways(engine, entrypoint, [["a", "b"], ["--version"], []])  # no arguments: the image's CMD
    bare = _image("bare", platform, ["ENV PATH=/bin", "USER nobody"], busybox=False)
    _both_ways(engine, bare, [["/bin/sh", "-c", "true"], ["sh"]])
    found = engine.run(bare, ["sh"])
    assert found.exit_code == 127 and "executable file not found" in found.not_started


def test_an_image_whose_container_cannot_start_runs_a_container_per_test(engine):
    engine = Engine(log=lambda *_: None)
    image = _image("nouser", "linux/amd64", ["ENV PATH=/bin", "USER nosuchuser"])
    containers = engine.containers(image, 2)
    assert containers.why.startswith("its container did not start: ") and "nosuchuser" in containers.why
    assert _seen(containers.run(["id"])) == _seen(engine.run(image, ["id"]))
    assert engine.containers(image, 1).why == "a single test"
