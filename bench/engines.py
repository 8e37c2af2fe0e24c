"""The bench's own Docker engines, beside the machine's (which the bench never touches).

    PYTHONPATH=. /work/main/.venv/bin/python bench/engines.py [start|stop|cold] [classic|containerd]

Two dockerd instances: `classic` (overlay2 image store) and `containerd` (the containerd image store,
Docker 29's default), each with its own data root under .work/bench-engines/NAME, exec root, socket
/run/publisher-bench-NAME.sock, pid file, and a bridge of its own made with `ip link` (never
`--bridge=none`: dockerd would then delete docker0 under the main engine). Cold means stopped, its
data root deleted, started again: nothing cached, no image, no BuildKit cache. Clients select one
with `env()` (DOCKER_HOST, and a DOCKER_CONFIG of its own, so buildx keeps its state there).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import rss

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".work" / "bench-engines"
DOCKERD = "dockerd"
DOCKER = "docker"  # a 28.x client; buildx from the docker-buildx package's plugin folder
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Spec:
    name: str
    bridge: str
    address: str  # the bridge's gateway, CIDR
    containerd_store: bool


SPECS = {"classic": Spec("classic", "pbench-classic", "172.31.252.1/24", False),
         "containerd": Spec("containerd", "pbench-ctrd", "172.31.253.1/24", True)}


class Engine:
    def __init__(self, spec: Spec):
        self.spec, self.folder = spec, WORK / spec.name
        self.data, self.exec_root = self.folder / "data", Path(f"/run/publisher-bench-{spec.name}")
        self.socket, self.pidfile = Path(f"/run/publisher-bench-{spec.name}.sock"), self.folder / "dockerd.pid"
        self.log, self.client = self.folder / "dockerd.log", self.folder / "client"
        self.client_peak_mb = 0.0  # the largest peak RSS of the docker CLI commands run through `docker`

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def env(self) -> dict[str, str]:
        """The environment of a client of this engine (and of publisher, which runs the docker CLI)."""
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_CONFIG": str(self.client)}

    def docker(self, *argv: str, check: bool = True) -> str:
        result = rss.run([DOCKER, *argv], env=self.env())
        self.client_peak_mb = max(self.client_peak_mb, result.peak_mb)
        if check and result.returncode:
            raise RuntimeError(f"docker {' '.join(argv)} ({self.spec.name}): {result.stderr.strip()[-1500:]}")
        return result.stdout

    def running(self) -> bool:
        pid = self._pid()
        return pid is not None and _alive(pid)

    def start(self) -> Engine:
        if self.running():
            return self
        self._bridge()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.client.mkdir(exist_ok=True)
        (self.client / "config.json").write_text("{}")
        config = self.folder / "daemon.json"
        config.write_text(json.dumps({"features": {"containerd-snapshotter": self.spec.containerd_store}}))
        argv = [DOCKERD, "--config-file", str(config), "--data-root", str(self.data), "--exec-root", str(self.exec_root),
                "-H", self.host, "--pidfile", str(self.pidfile), f"--bridge={self.spec.bridge}",
                "--iptables=false", "--ip-masq=false"]
        with self.log.open("ab") as log:
            _children[self.spec.name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_ready()
        return self

    def stop(self) -> None:
        pid = self._pid()
        if pid is None or not _alive(pid):
            return
        os.kill(pid, signal.SIGTERM)
        child = _children.pop(self.spec.name, None)
        if child is not None and child.pid == pid:
            child.wait(timeout=60)
            return
        deadline = time.monotonic() + 60
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)  # started by another process: not ours to wait for, so its /proc entry is polled
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)

    def cold(self) -> Engine:
        """Stopped, its data root deleted (images, containers, BuildKit cache), started again."""
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)
        shutil.rmtree(self.client / "buildx", ignore_errors=True)
        return self.start()

    def peaks(self) -> dict[str, float]:
        """The resident high-water marks (MB) of this engine's dockerd and containerd since it started."""
        return rss.engine_peaks(self._pid())

    def describe(self) -> dict:
        info = json.loads(self.docker("info", "--format", "{{json .}}"))
        return {"engine": self.spec.name, "server_version": info.get("ServerVersion"), "driver": info.get("Driver"),
                "containerd_store": "io.containerd.snapshotter" in json.dumps(info.get("DriverStatus"))}

    def _pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def _bridge(self) -> None:
        name = self.spec.bridge
        if subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0:
            return
        subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", self.spec.address, "dev", name], check=True)
        subprocess.run(["ip", "link", "set", name, "up"], check=True)

    def _answers(self) -> bool:
        argv = [DOCKER, "version", "--format", "{{.Server.Version}}"]
        return subprocess.run(argv, capture_output=True, env=self.env()).returncode == 0

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.socket.exists() and self._answers():
                return
            time.sleep(0.2)  # polling the socket: dockerd has no readiness signal to wait on
        tail = self.log.read_text(errors="replace")[-1500:]
        raise RuntimeError(f"bench engine {self.spec.name} did not start in {START_TIMEOUT:.0f} s:\n{tail}")


_children: dict[str, subprocess.Popen] = {}  # the engines this process started, to wait for (no zombies)


def _alive(pid: int) -> bool:
    """Running, not a zombie left for its parent to reap."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def engine(name: str) -> Engine:
    return Engine(SPECS[name])


def main() -> int:
    action = sys.argv[1] if len(sys.argv) > 1 else "start"
    for name in sys.argv[2:] or list(SPECS):
        found = engine(name)
        if action == "stop":
            found.stop()
            continue
        started = found.cold() if action == "cold" else found.start()
        print(json.dumps({**started.describe(), "DOCKER_HOST": started.host}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
