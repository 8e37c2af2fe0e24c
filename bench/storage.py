"""What a registry holds after a release, against what it must hold at the least.

`stored`: every blob file in a docker-registry's storage folder (layers, configs, manifests,
attestations), counted once each, as the disk holds them. `minimum`: the blobs the release cannot do
without: each distinct base layer once, the payload layer once per platform for the primary and once
per platform for all derived images (the same files at the same path: one layer can serve them all),
and the configs, manifests and attestation blobs this release wrote.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ACCEPT = ", ".join(f"application/vnd.{t}+json" for t in (
    "oci.image.index.v1", "oci.image.manifest.v1", "docker.distribution.manifest.list.v2", "docker.distribution.manifest.v2"))


@dataclass(frozen=True)
class Stored:
    blobs: int
    bytes: int


def stored(root: Path) -> Stored:
    files = list((root / "storage" / "docker" / "registry" / "v2" / "blobs").rglob("data"))
    return Stored(len(files), sum(f.stat().st_size for f in files))


def _get(host: str, path: str) -> tuple[bytes, str]:
    request = urllib.request.Request(f"http://{host}/v2/{path}", headers={"Accept": ACCEPT})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read(), response.headers.get("Docker-Content-Digest", "")


def _base_layers(mirror: str, base: str, arch: str) -> dict[str, int]:
    name, _, tag = base.partition(":")
    path = name if "/" in name else f"library/{name}"
    index = json.loads(_get(mirror, f"{path}/manifests/{tag}")[0])
    digest = next(m["digest"] for m in index["manifests"] if m["platform"]["architecture"] == arch)
    return {layer["digest"]: layer["size"] for layer in json.loads(_get(mirror, f"{path}/manifests/{digest}")[0])["layers"]}


class _Tally:
    def __init__(self, host: str, repo: str, mirror: str):
        self.host, self.repo, self.mirror = host, repo, mirror
        self.base, self.primary, self.meta, self.derived = {}, {}, {}, {}

    def manifest(self, reference: str) -> dict:
        body, digest = _get(self.host, f"{self.repo}/manifests/{reference}")
        self.meta[digest or reference] = len(body)
        return json.loads(body)

    def image(self, variant: dict, digest: str, arch: str) -> None:
        manifest = self.manifest(digest)
        self.meta[manifest["config"]["digest"]] = manifest["config"]["size"]
        layers = {layer["digest"]: layer["size"] for layer in manifest["layers"]}
        if arch == "unknown":  # an attestation manifest: its statements are this release's own
            self.meta.update(layers)
        elif variant["primary"]:
            self.primary.update(layers)
        else:  # the base's layers (as the mirror holds them: a classic-store push recompresses), then its own
            below = _base_layers(self.mirror, variant["base"], arch)
            self.base.update(below)
            own = sum(layer["size"] for layer in manifest["layers"][len(below):])
            self.derived[arch] = min(self.derived.get(arch, own), own)

    def variant(self, variant: dict) -> None:
        index = self.manifest(variant["tags"][0])
        for entry in index.get("manifests", []):
            self.image(variant, entry["digest"], entry.get("platform", {}).get("architecture", "unknown"))


def minimum(host: str, repo: str, variants: list[dict], mirror: str) -> dict:
    tally = _Tally(host, repo, mirror)
    for variant in variants:
        tally.variant(variant)
    figures = {"base_layers": sum(tally.base.values()), "payload_primary": sum(tally.primary.values()),
               "payload_derived": sum(tally.derived.values()), "metadata": sum(tally.meta.values())}
    return {**figures, "total": sum(figures.values())}
