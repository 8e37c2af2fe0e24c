"""The verifiers users run, as they run them: cosign, docker buildx imagetools and crane.

Each runs with a DOCKER_CONFIG holding `{}`: it reads no credentials of the machine's, and talks to
the loopback registries over plain HTTP. docs/supply-chain.md shows these very commands.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.conftest import need

TOOLS = ("cosign", "crane", "docker")


def empty_docker_config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    return folder


class Verifiers:
    """The three tools over one empty docker config."""

    def __init__(self, config: Path):
        for tool in TOOLS:
            need(shutil.which(tool) is not None, f"{tool} is missing; run bash .ci/setup")
        self.config = empty_docker_config(config)

    def run(self, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(argv, capture_output=True, text=True, timeout=120,
                              env={"DOCKER_CONFIG": str(self.config), "PATH": "/usr/local/bin:/usr/bin:/bin",
                                   "HOME": str(self.config)})

    def cosign_verify(self, public_key: Path, reference: str) -> subprocess.CompletedProcess:
        """`cosign verify --key PUB --insecure-ignore-tlog=true --allow-http-registry REF@DIGEST`."""
        return self.run("cosign", "verify", "--key", str(public_key), "--insecure-ignore-tlog=true",
                        "--allow-http-registry", reference)

    def imagetools(self, reference: str, field: str) -> dict:
        """`docker buildx imagetools inspect REF --format '{{json .SBOM}}'` (or `.Provenance`): per platform."""
        done = self.run("docker", "buildx", "imagetools", "inspect", reference, "--format", f"{{{{json .{field}}}}}")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def crane(self, *args: str) -> str:
        """`crane manifest REF`, `crane digest REF`, `crane ls REPO` (plain HTTP to the loopback registry)."""
        done = self.run("crane", *args, "--insecure")
        assert done.returncode == 0, done.stderr
        return done.stdout

    def crane_tags(self, repository: str) -> set[str]:
        return set(self.crane("ls", repository).split())
