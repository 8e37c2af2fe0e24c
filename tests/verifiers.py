"""The verifiers users run, as they run them: cosign, docker buildx imagetools, crane and oras.

Each runs with a DOCKER_CONFIG holding `{}`: it reads no credentials of the machine's, and talks to
the loopback registries over plain HTTP. docs/supply-chain.md shows these very commands.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.conftest import need

TOOLS = ("cosign", "crane", "docker", "oras")


def empty_docker_config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    return folder


class Verifiers:
    """The four tools over one empty docker config."""

    def __init__(self, config: Path):
        for tool in TOOLS:
            need(shutil.which(tool) is not None, f"{tool} is missing; run bash .ci/setup")
        self.config = empty_docker_config(config)

    def run(self, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(argv, capture_output=True, text=True, timeout=120,
                              env={"DOCKER_CONFIG": str(self.config), "PATH": "/usr/local/bin:/usr/bin:/bin",
                                   "HOME": str(self.config)})

    def run_in(self, folder: Path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
        """As `run`, in `folder`, with `env` added (COSIGN_PASSWORD for cosign's own keys)."""
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=folder,
                              env={"DOCKER_CONFIG": str(self.config), "PATH": "/usr/local/bin:/usr/bin:/bin",
                                   "HOME": str(self.config), **env})

    def cosign_verify(self, public_key: Path, reference: str) -> subprocess.CompletedProcess:
        """`cosign verify --key PUB --insecure-ignore-tlog=true --allow-http-registry REF@DIGEST`."""
        return self.run("cosign", "verify", "--key", str(public_key), "--insecure-ignore-tlog=true",
                        "--allow-http-registry", reference)

    def cosign_verify_attestation(self, public_key: Path, reference: str, kind: str) -> subprocess.CompletedProcess:
        """`cosign verify-attestation --key PUB --type KIND --insecure-ignore-tlog=true --allow-http-registry REF@DIGEST`."""
        return self.run("cosign", "verify-attestation", "--key", str(public_key), "--type", kind,
                        "--insecure-ignore-tlog=true", "--allow-http-registry", reference)

    def cosign_claims(self, public_key: Path, reference: str) -> list[dict]:
        """What `cosign verify` verified, one claim per signature: its `type` says which format it read
        (`https://sigstore.dev/cosign/sign/v1`: a Sigstore bundle; `cosign container image signature`: a `.sig`)."""
        done = self.cosign_verify(public_key, reference)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def oras_referrers(self, reference: str) -> list[dict]:
        """`oras discover --format json REF@DIGEST`: the referrers the registry lists (API or tag schema)."""
        done = self.run("oras", "discover", "--plain-http", "--format", "json", reference)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)["referrers"]

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
