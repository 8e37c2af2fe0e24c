"""The Docker engine: BuildKit builds through the docker CLI; run, inspect and save through the SDK."""

from __future__ import annotations

import gzip
import json
import os
import secrets
import shutil
import subprocess
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from publisher.errors import PublisherError
from publisher.image.oci import Image
from publisher.image.platform import Platform
from publisher.image.reference import Digest
from publisher.local import archives
from publisher.local.containers import IDLE, Exited, PerTest, Shared, idle_archive, idle_program, not_started
from publisher.local.names import LOCAL, OwnName
CLASSIC, CONTAINERD = "classic", "containerd"  # the engine's image stores


@dataclass(frozen=True)
class Builder:
    name: str  # "docker buildx build" or "DOCKER_BUILDKIT=1 docker build", and which builder
    argv: tuple[str, ...]
    env: dict
    reads_engine: bool = True  # whether a build can start FROM an image in the engine (buildx's docker driver)
    load: tuple[str, ...] = ()  # how the built image gets into the engine; () where it is built there
    tarball: bool = False  # exported as a tarball with rewrite-timestamp, then loaded


def find_builder(name: str | None = None, store: str = CLASSIC) -> Builder:
    """buildx where the plugin exists; otherwise a pre-23 client that builds with DOCKER_BUILDKIT=1.

    `name`: a buildx builder (`docker buildx create --name NAME ...`, e.g. with native nodes per platform).
    `store`: the engine's image store; only the classic store's exporter can rewrite layer times.
    """
    candidates = list(dict.fromkeys(p for p in (shutil.which("docker"), "/usr/bin/docker") if p and os.access(p, os.X_OK)))
    for docker in candidates:
        if _ok([docker, "buildx", "version"]):
            return _buildx(docker, name, store)
    if name:
        raise PublisherError(f"publisher: --builder {name} needs the docker buildx plugin, which is not installed; "
                             "install it, or leave --builder out to build with the local engine")
    for docker in candidates:
        version = _out([docker, "version", "--format", "{{.Client.Version}}"])
        if version and version.split(".")[0].isdigit() and int(version.split(".")[0]) < 23:
            return Builder("DOCKER_BUILDKIT=1 docker build", (docker, "build"), {"DOCKER_BUILDKIT": "1"})
    raise PublisherError("publisher: no BuildKit builder found: install the docker buildx plugin (or Debian's docker.io client)")


def _buildx(docker: str, name: str | None, store: str) -> Builder:
    chosen = ("--builder", name) if name else ()
    found = _fields(_out([docker, "buildx", "inspect", *chosen]))
    if "Driver" not in found:
        raise PublisherError(f"publisher: --builder {name}: no such buildx builder (`docker buildx ls` lists them); "
                             f"create it with `docker buildx create --name {name}`, or leave --builder out")
    driver = found["Driver"]
    # rewrite-timestamp (layer times clamped to SOURCE_DATE_EPOCH) needs a tarball exporter: the docker
    # driver has one on the containerd store only; other drivers have it everywhere.
    tarball = store == CONTAINERD or driver != "docker"
    return Builder(f"docker buildx build (builder {found.get('Name', name)}, driver {driver})",
                   (docker, "buildx", "build", *chosen), {}, driver == "docker", ("--load",), tarball)


def _fields(text: str) -> dict[str, str]:
    """`Name:   default` lines of `docker buildx inspect`, up to its node list."""
    fields = {}
    for line in text.split("\nNodes:")[0].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    return fields


def _ok(argv: list[str]) -> bool:
    return subprocess.run(argv, capture_output=True, timeout=60).returncode == 0


def _out(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return result.stdout.strip() if result.returncode == 0 else ""


@dataclass(frozen=True)
class Build:
    dockerfile: Path
    context: Path
    platform: Platform
    build_args: dict
    labels: dict
    cache: bool = True  # False: --no-cache
    epoch: int | None = None  # SOURCE_DATE_EPOCH: the release's time, for the config, history and layer times


class Engine:
    def __init__(self, log=print, builder: str | None = None):
        import docker  # imported here: the dry-run path never pays for it

        self.log = log
        try:
            self.client = docker.from_env(timeout=300)
            self.client.ping()
        except docker.errors.DockerException as e:
            raise PublisherError(f"publisher: cannot reach the Docker engine ({_first_line(e)}); start dockerd or set DOCKER_HOST") from None
        self._builder_name = builder
        self._lock = threading.Lock()
        self._known: set = set()  # what this Engine loaded or was told is there (see _content)
        # This publish's own names: another publish on the same engine has its own, so removing ours
        # (remove_own) never takes an image from under it.
        self.session = secrets.token_hex(4)
        self._own: set[OwnName] = set()
        self.errors = docker.errors
        info = self.client.info()
        self.architecture = info.get("Architecture", "")
        self.store = CONTAINERD if any("containerd" in str(v) for _, v in info.get("DriverStatus") or []) else CLASSIC
        self.description = (f"Docker {info.get('ServerVersion', 'of unknown version')}, {self.store} image store "
                            f"({info.get('Driver', 'unknown driver')})")

    @cached_property
    def builder(self) -> Builder:
        """Found when a build needs it: an all-assembled release needs no BuildKit."""
        return find_builder(self._builder_name, self.store)

    def build(self, build: Build) -> str:
        """Build one platform's image; returns its image ID (the digest of its config)."""
        with tempfile.TemporaryDirectory() as tmp:
            iidfile, tarball = Path(tmp) / "iid", Path(tmp) / "image.tar"
            output = ["--output", f"type=docker,dest={tarball},rewrite-timestamp=true"] if self.builder.tarball else [*self.builder.load]
            argv = [*self.builder.argv, *output, "--platform", str(build.platform), "-f", str(build.dockerfile), "--iidfile", str(iidfile)]
            argv += [f"--build-arg={k}={v}" for k, v in build.build_args.items()]
            argv += [f"--label={k}={v}" for k, v in build.labels.items()]
            argv += [] if build.cache else ["--no-cache"]
            argv += [] if build.epoch is None else [f"--build-arg=SOURCE_DATE_EPOCH={build.epoch}"]
            argv.append(str(build.context))
            self.log(f"$ {self.builder.name} --platform {build.platform} -f {build.dockerfile}")
            result = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **self.builder.env})
            if result.returncode != 0:
                tail = " | ".join(result.stderr.strip().splitlines()[-3:])
                raise PublisherError(f"{build.dockerfile}: build for {build.platform} failed: {tail}")
            image_id = self._loaded(tarball) if self.builder.tarball else iidfile.read_text().strip()
        name = self.local_name(image_id)
        self.client.images.get(image_id).tag(LOCAL, name.tag)
        self._named(name)
        return image_id

    def _loaded(self, tarball: Path) -> str:
        """The tarball loaded; its ID in the engine (on the containerd store, the manifest's digest)."""
        with tarball.open("rb") as f:
            (image,) = self.client.images.load(f)
        return image.id

    def local_name(self, image_id: str) -> OwnName:
        """The image named by its own ID (and this publish), so a later build can pin it (BuildKit cannot use a bare ID)."""
        return OwnName.of(image_id, self.session)

    def _named(self, name: OwnName) -> None:
        with self._lock:
            self._own.add(name)

    def remove_own(self) -> int:
        """Every name this Engine gave an image removed, and with it each image nothing else holds: a base the
        engine pulled stays, by its digest, as `docker pull REPO@DIGEST` leaves it. How many names were removed."""
        removed = 0
        for name in sorted(self._own):
            try:
                self.client.images.remove(str(name))
                removed += 1
            except self.errors.ImageNotFound:
                pass
            except self.errors.DockerException as e:
                self.log(f"the engine kept {name}: {_first_line(e)}")
        self._own.clear()
        return removed

    def inspect(self, image_id: str) -> dict:
        return self.client.images.get(image_id).attrs

    def run(self, image_id: str, command: list[str]) -> Exited:
        container = self.client.containers.create(image_id, command, network_disabled=True)
        try:
            container.start()
            code = container.wait(timeout=300)["StatusCode"]
            out = container.logs(stdout=True, stderr=False).decode(errors="replace")
            err = container.logs(stdout=False, stderr=True).decode(errors="replace")
            return Exited(code, out, err)
        except self.errors.APIError as e:
            why = _not_started(e)
            return Exited(127 if "not found" in why or "no such file" in why else 126, "", "", why)  # as `docker run` exits
        finally:
            container.remove(force=True, v=True)

    def containers(self, image_id: str, tests: int) -> Shared | PerTest:
        """Where an image's `tests` run: one container for all of them (see local/containers), or one each
        where one cannot be shared (a single test, nothing to keep it up on this engine, or it did not start)."""
        if tests < 2:
            return PerTest(self, image_id, "a single test")
        program = idle_program(self.architecture)
        if program is None:
            return PerTest(self, image_id, f"no idle process for a {self.architecture or 'unknown'} engine")
        config = self.inspect(image_id).get("Config") or {}
        container = self.client.containers.create(image_id, [], entrypoint=[IDLE], network_disabled=True)
        try:
            container.put_archive("/", idle_archive(program))
            container.start()
        except self.errors.APIError as e:
            container.remove(force=True, v=True)
            return PerTest(self, image_id, f"its container did not start: {_not_started(e)}")
        return Shared(self, image_id, container, config)

    def has(self, name: OwnName) -> bool:
        try:
            self.client.images.get(str(name))
            return True
        except self.errors.ImageNotFound:
            return False

    def load(self, name: OwnName, image: Image, plain: dict[str, Path] | None = None) -> None:
        """Load `image` (its config and compressed layers) under `name`, leaving out of the archive what
        the engine got from this Engine before (`loaded`, `remember`); an engine that wants it anyway gets everything.

        `plain`: layer digest → the same layer uncompressed. The classic store gets those instead: it keys
        layers by their uncompressed digest, so the image is the same, and it need not gunzip them."""
        with self._lock:
            known = self._known.copy()
        try:
            return self._load(name, image, known, plain or {})
        except self.errors.DockerException as e:
            if not known:
                raise PublisherError(f"publisher: the Docker engine did not load image {name}: {_first_line(e)}") from None
        try:
            self._load(name, image, set(), plain or {})
        except self.errors.DockerException as e:
            raise PublisherError(f"publisher: the Docker engine did not load image {name}: {_first_line(e)}") from None

    def pull(self, name: OwnName, image: Image, source: Digest, auth: dict | None) -> str | None:
        """Have the engine pull `source` (`image` exactly, by digest) itself and name it `name`; why
        not, or None. The engine's own pull downloads, decompresses and unpacks layers at once and in
        parallel, where a load reads the whole archive first (and the containerd store unpacks only the host's platform)."""
        try:
            for event in self.client.api.pull(str(source.context), source.digest, stream=True, decode=True,
                                              platform=str(image.platform), auth_config=auth):
                if "error" in event:
                    return str(event["error"]).strip().splitlines()[0]
            self.client.api.tag(source.name, LOCAL, name.tag)
            self._named(name)
        except self.errors.DockerException as e:
            return _first_line(e)
        self.remember(image)
        return None

    def remember(self, image: Image) -> None:
        """`image` is in the engine (loaded by an earlier publish): later loads leave out what it holds."""
        with self._lock:
            self._known |= _content(image)

    def _load(self, name: OwnName, image: Image, known: set, plain: dict[str, Path]) -> None:
        self._named(name)  # before the load: an interrupted one may have named it already
        if self.store == CONTAINERD:
            members = archives.oci_layout(name, image, known)
        else:
            diff_ids = json.loads(image.config)["rootfs"]["diff_ids"]
            held = max((k for k in range(len(diff_ids) + 1) if ("chain", *diff_ids[:k]) in known), default=0)
            members = archives.docker_archive(name, image, held, plain)
        self.client.images.load(archives.stream(members))
        self.remember(image)

    def save(self, image_id: str, into: Path) -> tuple[bytes, list[Path]]:
        """Export an image: its config bytes and its uncompressed layer tars, in order."""
        archive = into / "image.tar"
        with archive.open("wb") as f:
            for chunk in self.client.images.get(image_id).save(named=False):
                f.write(chunk)
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")
        archive.unlink()
        (entry,) = json.loads((into / "manifest.json").read_text())
        return (into / entry["Config"]).read_bytes(), [_gunzipped(into / layer) for layer in entry["Layers"]]


def _gunzipped(layer: Path) -> Path:
    """The layer as a plain tar: the containerd store saves the compressed blobs it holds."""
    with layer.open("rb") as f:
        if f.read(2) != b"\x1f\x8b":
            return layer
    plain = layer.with_name(layer.name + ".tar")
    with gzip.open(layer, "rb") as src, plain.open("wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    layer.unlink()
    return plain


def _content(image: Image) -> set:
    """What an image puts in the engine: its layer digests (the containerd store's content) and the chain
    of each of its diff ID prefixes (the classic store's layers)."""
    diff_ids = json.loads(image.config)["rootfs"]["diff_ids"]
    return {b.digest for b in image.layers} | {("chain", *diff_ids[:k]) for k in range(1, len(diff_ids) + 1)}


def _not_started(error) -> str:
    return not_started(_first_line(error) if not getattr(error, "explanation", None) else str(error.explanation))


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
