"""Loopback registries for tests: real `docker-registry` (distribution 2.8.2) processes on free ports."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt
import pytest

BINARY = "docker-registry"
START_TIMEOUT = 15.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bcrypt_line(username: str, password: str) -> str:
    """An htpasswd line docker-registry accepts: it reads bcrypt hashes only."""
    # The lowest bcrypt cost keeps a request cheap: the registry checks the hash on every one.
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    return f"{username}:{hashed}\n"


class _Served:
    """A registry process on 127.0.0.1: ready once /v2/ answers (polled, bounded), stopped by its pid."""

    host: str
    url: str
    log_path: Path
    _process: subprocess.Popen | None

    def _listen(self, log_name: str) -> None:
        """A free loopback port, its address and URL, and the log file, before the process starts."""
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.log_path = self.root / log_name
        self._process = None

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/v2/", timeout=0.5).close()
                return
            except urllib.error.HTTPError:
                return  # 401 from an auth registry: it answers, so it is up
            except OSError:
                pass
            try:
                self._process.wait(timeout=0.05)  # doubles as the pause between polls
            except subprocess.TimeoutExpired:
                continue
            break
        self.stop()
        log = self.log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{type(self).__name__} on {self.host} did not start; log tail:\n{log}")

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None


class RegistryServer(_Served):
    """One `docker-registry serve` on 127.0.0.1, filesystem storage under `root`."""

    def __init__(self, root: Path, username: str | None = None, password: str | None = None):
        self.root, self.username, self.password = root, username, password
        self._listen("registry.log")

    def _config(self) -> str:
        config = f"""\
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {self.root / "storage"}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: {self.host}
  secret: {secrets.token_hex(16)}
"""
        return config + self._auth_config()

    def _auth_config(self) -> str:
        """The `auth:` section: htpasswd when a user is given; subclasses swap in another scheme."""
        if not self.username:
            return ""
        htpasswd = self.root / "htpasswd"
        htpasswd.write_text(bcrypt_line(self.username, self.password or ""))
        return f"auth:\n  htpasswd:\n    realm: publisher-tests\n    path: {htpasswd}\n"

    def start(self) -> RegistryServer:
        config = self.root / "config.yml"
        config.write_text(self._config())
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [shutil.which(BINARY) or BINARY, "serve", str(config)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        self._wait_ready()
        return self

class CraneRegistry(_Served):
    """go-containerregistry's own registry, `crane registry serve --address 127.0.0.1:PORT --disk DIR`:
    no auth, blob mounts ignored, one blob store for every repository, manifests in memory."""

    def __init__(self, root: Path):
        self.root, self.disk = root, root / "blobs"
        self._listen("crane-registry.log")

    def start(self) -> CraneRegistry:
        self.disk.mkdir(parents=True, exist_ok=True)  # without it every upload is a 500
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [shutil.which("crane") or "crane", "registry", "serve", "--address", self.host, "--disk", str(self.disk)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        self._wait_ready()
        return self


def _require_binary() -> None:
    if shutil.which(BINARY):
        return
    message = f"'{BINARY}' is not installed (Debian package docker-registry)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """An open loopback registry, one for the whole session."""
    _require_binary()
    server = RegistryServer(tmp_path_factory.mktemp("registry")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory):
    """A loopback registry behind htpasswd basic auth: user `publisher`, a random password."""
    _require_binary()
    root = tmp_path_factory.mktemp("auth-registry")
    server = RegistryServer(root, "publisher", secrets.token_urlsafe(16)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def crane_registry(tmp_path_factory):
    """A second registry implementation, go-containerregistry's, one for the whole session."""
    if not shutil.which("crane"):
        message = "'crane' is not installed (Debian package crane; run bash .ci/setup)"
        pytest.fail(message) if os.environ.get("CI") == "true" else pytest.skip(message)
    server = CraneRegistry(tmp_path_factory.mktemp("crane-registry")).start()
    yield server
    server.stop()
