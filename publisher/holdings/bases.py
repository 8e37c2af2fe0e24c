"""The bases of a release as their registries hold them now: resolved once, fetched once.

A base is pinned by the digest it has when the publish starts; every image assembled on it, and the
annotation recording it, use that digest. Layers are kept in the cache by digest, as their registry
compressed them: those are the bytes pushed, so a registry that has the base already has them too.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from publisher.errors import PublisherError
from publisher.image import oci
from publisher.image.oci import Blob
from publisher.image.platform import Platform, platform_of
from publisher.image.reference import Digest, Mirror, Reference
from publisher.release.plan import Plan
from publisher.remote.hosts import Hosts
from publisher.remote.registry import Registry

LAYER_TYPES = {
    oci.LAYER: oci.LAYER,
    oci.DOCKER_LAYER: oci.LAYER,  # the same gzip bytes; the pushed manifest is OCI throughout
    "application/vnd.oci.image.layer.v1.tar": "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}


@dataclass(frozen=True)
class FetchedBase:
    """One platform's base image: its config and its layers, compressed as its registry holds them."""

    config: bytes
    layers: tuple[Blob, ...]  # their files are in the cache once `Bases.download` returns
    source: Digest | None = None  # this platform's manifest where it was read: what an engine can pull itself


class Bases:
    """The bases as declared → where they are read (through --base-mirror: applied here, and only here), their
    digests and images. Every step names a base as its Variant declares it."""

    def __init__(self, bases: set[Reference], mirror: Mirror | None, cache: Path, hosts: Hosts):
        self.refs = {base: base.through(mirror) if mirror else base for base in bases}
        self.cache = cache / "bases"
        self.hosts = hosts
        self.digests: dict[Reference, str] = {}
        self._manifests: dict[tuple[Digest], tuple[str, bytes]] = {}  # Docker Hub counts each GET as a pull
        self._platforms: dict[tuple[Reference, Platform], tuple[dict, bytes, str] | str] = {}
        self._downloads: dict[tuple[str], bool] = {}
        self._locks: dict[tuple, threading.Lock] = {}  # one per cache key: tasks asking at once make one request
        self._lock = threading.Lock()

    def _once(self, cache: dict, key: tuple, make):
        """cache[key], made by the first task that asks; the others asking meanwhile wait for it."""
        with self._lock:
            lock = self._locks.setdefault((id(cache), *key), threading.Lock())
        with lock:
            if key not in cache:
                cache[key] = make()
        return cache[key]

    def resolve(self, pool: Executor) -> dict[Reference, str]:
        """Each base's manifest digest now; a missing base is an error naming it."""
        bases = sorted(self.refs, key=str)
        return self.pin(dict(zip(bases, pool.map(self._head, bases))))

    def pin(self, found: dict[Reference, str | None]) -> dict[Reference, str]:
        """The bases at the digests read for them (`resolve`'s, or the dry-run's); a missing base is an error naming it."""
        for base in sorted(found, key=str):
            if found[base] is None:
                raise PublisherError(f"publisher: base image {base} not found at {self.refs[base].context}; "
                                     "check the matrix or --base-mirror")
        self.digests = found
        return found

    def of_variants(self, plan: Plan) -> dict[str, str | None]:
        """Variant → its base's digest as `resolve` found it (None: FROM scratch): how every step keys bases."""
        return {v.variant.name: self.digests.get(v.variant.base) for v in plan.variants}

    def digest_now(self, base: Reference) -> str | None:
        """The digest `base` resolves to now, read where it is; None when it is not there (nothing remembered)."""
        return self._head(base)

    def _head(self, base: Reference) -> str | None:
        ref = self.refs[base]
        return self.hosts[ref.host].head_manifest(ref)

    def image(self, base: Reference, platform: Platform) -> FetchedBase:
        """The base's image for `platform`, at the digest `resolve` found; its layers are not downloaded yet."""
        ref = self.refs[base]
        found = self._platform(base, platform)
        if isinstance(found, str):
            raise PublisherError(f"publisher: base image {base} {found}; remove the platform from the variant or choose another base")
        manifest, config, digest = found
        layers = tuple(self._layer(layer, base) for layer in manifest["layers"])
        return FetchedBase(config, layers, ref.context.digest(digest))

    def download(self, base: Reference, fetched: FetchedBase) -> None:
        """The base's layers into the cache, each once: the bytes pushed, and loaded where the engine cannot pull."""
        ref, registry = self.refs[base], self.hosts[self.refs[base].host]
        for blob in fetched.layers:
            self._once(self._downloads, (blob.digest,), lambda: self._download(ref, registry, blob))

    def _download(self, ref: Reference, registry: Registry, blob: Blob) -> bool:
        if not blob.path.exists():
            self.cache.mkdir(parents=True, exist_ok=True)
            registry.download_blob(ref.path, blob.digest, blob.path)
        return True

    def lacks(self, base: Reference, platform: Platform) -> str | None:
        """Why the base cannot serve `platform` (e.g. "has linux/amd64 only"), or None: checked before any build."""
        found = self._platform(base, platform)
        return found if isinstance(found, str) else None

    def looked_up(self, base: Reference) -> Reference:
        """Where the base is read: as declared, or through --base-mirror."""
        return self.refs[base]

    def _platform(self, base: Reference, platform: Platform) -> tuple[dict, bytes, str] | str:
        """(manifest, config, manifest digest) of the base's image for `platform`, or what it has instead; read once."""
        return self._once(self._platforms, (base, platform), lambda: self._find(base, platform))

    def _find(self, base: Reference, platform: Platform) -> tuple[dict, bytes, str] | str:
        ref, registry = self.refs[base], self.hosts[self.refs[base].host]
        digest = self.digests[base]
        media_type, body = self._get(ref, registry, digest)
        document = json.loads(body)
        if media_type in oci.INDEXES or "manifests" in document:
            entries = [m for m in document["manifests"] if not _entry_platform(m).unknown]
            entry = next((m for m in entries if _entry_platform(m).satisfies(platform)), None)
            if entry is None:
                return f"has no {platform} image (it has {', '.join(str(_entry_platform(m)) for m in entries) or 'none'})"
            digest = entry["digest"]
            document = json.loads(self._get(ref, registry, digest)[1])
        config = registry.get_blob(ref.path, document["config"]["digest"])
        found = platform_of(json.loads(config))
        if not found.satisfies(platform):
            return f"is {found} only, not {platform}"
        return document, config, digest

    def _get(self, ref: Reference, registry: Registry, digest: str) -> tuple[str, bytes]:
        manifest = ref.context.digest(digest)

        def fetch() -> tuple[str, bytes]:
            found = registry.get_manifest(manifest)
            if found is None:
                raise PublisherError(f"publisher: base image {ref.name} has no manifest {digest} any more; run the publish again")
            return found[:2]

        return self._once(self._manifests, (manifest,), fetch)

    def _layer(self, layer: dict, base: Reference) -> Blob:
        media_type = LAYER_TYPES.get(layer.get("mediaType", ""))
        if media_type is None:
            raise PublisherError(f"publisher: base image {base} has a layer of type {layer.get('mediaType')}, "
                                 "which publisher cannot republish")
        return Blob(layer["digest"], int(layer["size"]), self.cache / layer["digest"].replace(":", "-"), media_type)


def _entry_platform(entry: dict) -> Platform:
    return platform_of(entry.get("platform") or {})


def check_platforms(bases: Bases, plan: Plan, pool: Executor) -> None:
    """Every planned (variant, platform) has its base image, proven before anything is built; the primary's too."""
    wanted = [(v.variant, p) for v in plan.made if v.variant.base and not v.variant.platforms_from_base
              for p in v.variant.platforms]
    missing = list(pool.map(lambda item: bases.lacks(item[0].base, item[1]), wanted))
    problems = [f"{plan.source}:{variant.line}: variant '{variant.name}': base {variant.base} {why} "
                f"(looked up at {bases.looked_up(variant.base).name}); remove the platform from the variant or choose another base"
                for (variant, _), why in zip(wanted, missing) if why]
    if problems:
        raise PublisherError(*problems)


@dataclass(frozen=True)
class BasePlatforms:
    """Of a `platforms: from-base` variant's planned platforms, those its base's index has and those it lacks."""

    has: tuple[Platform, ...]
    lacks: tuple[Platform, ...]


def platforms_found(bases: Bases, plan: Plan, pool: Executor) -> dict[str, BasePlatforms]:
    """Each `platforms: from-base` variant → what its base, at the digest `resolve` found, has of its platforms."""
    chosen = [v.variant for v in plan.variants if v.variant.platforms_from_base]
    has = pool.map(lambda v: tuple(p for p in v.platforms if not bases.lacks(v.base, p)), chosen)
    return {v.name: BasePlatforms(found, tuple(p for p in v.platforms if p not in found)) for v, found in zip(chosen, has)}


def from_bases(bases: Bases, plan: Plan, pool: Executor) -> dict[str, tuple[Platform, ...]]:
    """Each `platforms: from-base` variant → those of its platforms its base's index has; refused with none."""
    found = platforms_found(bases, plan, pool)
    problems = [f"{plan.source}:{v.variant.line}: variant '{v.variant.name}': platforms: from-base, and base {v.variant.base} has none of "
                f"{', '.join(map(str, v.variant.platforms))} (looked up at {bases.looked_up(v.variant.base).name}); list its platforms or choose another base"
                for v in plan.variants if v.variant.name in found and not found[v.variant.name].has]
    if problems:
        raise PublisherError(*problems)
    return {name: f.has for name, f in found.items()}
