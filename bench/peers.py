"""What a release engineer would use instead of publisher, generated from publisher's own plan.

- `bake`: one `docker buildx bake` file (JSON) for the whole release: every variant and tag, both
  platforms, pushed (`output type=registry`), `attest type=provenance,mode=max`. The primary is built
  from the payload binaries laid out as DIR/<os>-<arch>/ (the layout of publisher's `--artifacts`);
  each derived target takes it as the named context `uv` (`target:primary`) and its base from the
  bench's mirror (BASE_IMAGE). No SBOM: its scanner image (docker/buildkit-syft-scanner) cannot be
  pulled here. Needs the containerd image store (multi-platform with the docker driver).
- `loop`: the hand-written workflow on the classic store: per variant and platform
  `docker buildx build --load`, `docker push` of REPO:<tag>-<arch> for every tag, then one
  `docker manifest create` + `push` per tag. No smoke test, no attestation.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench import rss
from bench.engines import DOCKER, Engine

ROOT = Path(__file__).resolve().parent.parent
PRIMARY_DOCKERFILE = """FROM scratch
ARG TARGETOS
ARG TARGETARCH
COPY ${TARGETOS}-${TARGETARCH}/uv ${TARGETOS}-${TARGETARCH}/uvx /
WORKDIR /io
ENTRYPOINT ["/uv"]
"""


@dataclass(frozen=True)
class Release:
    """One release as the peers see it: the plan's variants, where to push, the payload, the bases' mirror."""

    variants: list[dict]  # publisher's `--dry-run --output json` variants
    repository: str  # HOST:PORT/NAME
    artifacts: Path  # DIR/<os>-<arch>/{uv,uvx}
    mirror: str  # HOST:PORT of the bases, laid out like Docker Hub


def target_name(variant: dict) -> str:
    return "primary" if variant["primary"] else re.sub(r"[^A-Za-z0-9_-]", "_", variant["name"])


def mirrored(base: str, mirror: str) -> str:
    name, _, tag = base.partition(":")
    return f"{mirror}/{name if '/' in name else 'library/' + name}:{tag}"


def bake_file(release: Release, empty: Path) -> dict:
    """The bake definition: the primary first, every derived target reading it as context `uv`."""
    targets = {}
    for v in release.variants:
        common = {"platforms": v["platforms"], "tags": [f"{release.repository}:{t}" for t in v["tags"]],
                  "labels": v["labels"], "output": ["type=registry"], "attest": ["type=provenance,mode=max"]}
        if v["primary"]:
            inline = PRIMARY_DOCKERFILE.replace("${", "$${")  # bake interpolates ${...} in its JSON files too
            targets["primary"] = {**common, "context": str(release.artifacts), "dockerfile-inline": inline}
        else:
            targets[target_name(v)] = {**common, "context": str(empty), "dockerfile": str(ROOT / v["dockerfile"]),
                                       "contexts": {"uv": "target:primary"},
                                       "args": {"PRIMARY_IMAGE": "uv", "BASE_IMAGE": mirrored(v["base"], release.mirror)}}
    return {"group": {"default": {"targets": list(targets)}}, "target": targets}


def run_bake(release: Release, engine: Engine, work: Path) -> dict:
    """`docker buildx bake` of the whole release on `engine`; wall seconds."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "empty").mkdir(exist_ok=True)
    (work / "docker-bake.json").write_text(json.dumps(bake_file(release, work / "empty"), indent=1))
    env = {**engine.env(), "BUILDX_BAKE_ENTITLEMENTS_FS": "0"}  # the contexts are outside the working directory
    start = time.perf_counter()
    argv, record = rss.measured([DOCKER, "buildx", "bake", "--progress=plain", "-f", "docker-bake.json"])
    with (work / "bake.log").open("wb") as log:
        process = subprocess.run(argv, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    peak = rss.peak(record)
    if process.returncode:
        tail = (work / "bake.log").read_text(errors="replace")[-2500:]
        raise RuntimeError(f"docker buildx bake failed (exit {process.returncode}):\n{tail}")
    return {"wall_s": round(wall, 2), "client_peak_mb": peak}


class Loop:
    """The hand-written release loop, every command through the docker CLI of one engine."""

    def __init__(self, release: Release, engine: Engine, work: Path):
        self.release, self.engine, self.work = release, engine, work
        self.seconds = {"build": 0.0, "push": 0.0, "manifests": 0.0}

    def run(self) -> dict:
        (self.work / "empty").mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        for v in self.release.variants:  # the primary first: the derived images copy from it
            for platform in v["platforms"]:
                self.build(v, platform)
                self.push(v, platform)
        for v in self.release.variants:
            for tag in v["tags"]:
                self.manifest(v, tag)
        return {"wall_s": round(time.perf_counter() - start, 2), "phases": {k: round(s, 2) for k, s in self.seconds.items()},
                "client_peak_mb": self.engine.client_peak_mb}

    def local(self, v: dict, platform: str) -> str:
        return f"bench-loop/{v['name']}:{platform.split('/')[1]}"

    def build(self, v: dict, platform: str) -> None:
        argv = ["buildx", "build", "--load", "--quiet", "--platform", platform, "-f", str(ROOT / v["dockerfile"]),
                "-t", self.local(v, platform)]
        if v["primary"]:
            context = self.release.artifacts / platform.replace("/", "-")
        else:
            primary = self.local(self.release.variants[0], platform)
            argv += ["--build-arg", f"PRIMARY_IMAGE={primary}", "--build-arg",
                     f"BASE_IMAGE={mirrored(v['base'], self.release.mirror)}"]
            context = self.work / "empty"
        self.timed("build", *argv, str(context))

    def push(self, v: dict, platform: str) -> None:
        for tag in v["tags"]:
            remote = f"{self.release.repository}:{tag}-{platform.split('/')[1]}"
            self.timed("push", "tag", self.local(v, platform), remote)
            self.timed("push", "push", "--quiet", remote)

    def manifest(self, v: dict, tag: str) -> None:
        name = f"{self.release.repository}:{tag}"
        parts = [f"{name}-{p.split('/')[1]}" for p in v["platforms"]]
        self.timed("manifests", "manifest", "create", "--insecure", name, *parts)
        self.timed("manifests", "manifest", "push", "--purge", "--insecure", name)

    def timed(self, phase: str, *argv: str) -> None:
        start = time.perf_counter()
        self.engine.docker(*argv)
        self.seconds[phase] += time.perf_counter() - start
