"""Stand-ins for the shipped matrix's bases, realistic in size, layering and sharing, for amd64 and arm64.

    PYTHONPATH=. /work/main/.venv/bin/python bench/bases.py [--set standard|heavy|huge] [--push]   # builds (or reuses), prints the totals

Made from real bookworm packages (bench/debs.py: downloaded and unpacked, never run), layered as Docker
Hub's images are: debian:bookworm-slim one OS layer; buildpack-deps:bookworm the bookworm OS layer, then
curl, scm and build-dependency layers; python:3.X-bookworm those four and a Python layer;
python:3.X-slim-bookworm the slim layer and its own Python layer; alpine:3.20 busybox-static and musl;
python:3.X-alpine that and a Python layer. A Python layer is Debian's Python 3.11 relocated to
/usr/local/lib/python3.X with a `python` that prints `Python 3.X.Y` (the smoke test's check).

Three sets, each served by a mirror of its own under the same names (`--set`):
- `standard` (~0.55 GB per platform), as above.
- `heavy` (983 MB amd64, 963 MB arm64): the same, but each python:3.X-bookworm's Python layer also carries
  Debian's Python debug build and test suite (real content, ~80 MB compressed: the size of the layers
  a python:3.X-bookworm image builds from source), so a layer per Python version weighs what it does on
  Docker Hub's buildpack-deps-based images.
- `huge` (amd64 only): debian:bookworm-slim with a second layer of 2 GiB of incompressible bytes
  (2.15 GB compressed), the size of a CUDA base's largest layer: for memory flat in layer size
  (`bench/publish.py --set huge` publishes only bookworm-slim on linux/amd64).
Built into an OCI layout under .work/bench-bases (layers gzipped once; `manifest.json` records what was
built, and is reused), then copied as-is into a loopback registry laid out like Docker Hub.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import debs  # noqa: E402
from bench.blobs import GZIP, Layer, Layout  # noqa: E402
from tests.registry_server import RegistryServer  # noqa: E402

WORK = ROOT / ".work" / "bench-bases"
SETS = ("standard", "heavy", "huge")
HUGE = (8, 256 << 20)  # files x bytes of random content in the huge layer: 2 GiB
RECIPE = 1  # bump when a layer's recipe changes: the manifest and the layers are then made again
ARCHES = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
PYTHONS = {"3.13": "3.13.1", "3.12": "3.12.8", "3.11": "3.11.11", "3.10": "3.10.16", "3.9": "3.9.21", "3.8": "3.8.20"}
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DOCS = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian")
BUILDPACK = ["bookworm", "curl", "scm", "dev"]
APPLETS = ("sh", "ls", "cat", "echo", "env", "uname", "true", "false", "test", "grep", "sed", "wget")
APK = "".join(f"P:{p}\nV:{v}\nA:{{arch}}\nL:{lic}\no:{p}\n\n" for p, v, lic in (
    ("busybox", "1.36.1-r29", "GPL-2.0-only"), ("musl", "1.2.5-r0", "MIT")))


@dataclass(frozen=True)
class Base:
    ref: str  # as the matrix names it: alpine:3.20
    layers: tuple[str, ...]  # layer recipe names, bottom first
    config: dict
    arches: tuple[str, ...] = tuple(ARCHES)

    @property
    def path(self) -> str:
        """Its repository in a mirror laid out like Docker Hub: library/alpine."""
        name = self.ref.split(":")[0]
        return name if "/" in name else f"library/{name}"

    @property
    def tag(self) -> str:
        return self.ref.split(":")[1]


def catalog(kind: str = "standard") -> list[Base]:
    """The bases of one set (see SETS)."""
    shell = {"Env": [f"PATH={PATH}"], "Cmd": ["/bin/sh"]}
    if kind == "huge":
        return [Base("debian:bookworm-slim", ("slim", "huge"), {**shell, "Cmd": ["bash"]}, ("amd64",))]
    flavor = "heavy" if kind == "heavy" else "full"
    bases = [Base("alpine:3.20", ("alpine",), shell), Base("debian:bookworm-slim", ("slim",), {**shell, "Cmd": ["bash"]}),
             Base("buildpack-deps:bookworm", tuple(BUILDPACK), {**shell, "Cmd": ["bash"]}),
             Base("distroless/static-debian12:nonroot", ("distroless",),
                  {"Env": [f"PATH={PATH}"], "User": "65532:65532", "WorkingDir": "/home/nonroot"})]
    for short, full in PYTHONS.items():
        config = {"Env": [f"PATH={PATH}", "LANG=C.UTF-8", f"PYTHON_VERSION={full}"], "Cmd": ["python3"]}
        bases += [Base(f"python:{short}-bookworm", (*BUILDPACK, f"python{short}-{flavor}"), config),
                  Base(f"python:{short}-slim-bookworm", ("slim", f"python{short}-slim"), config),
                  Base(f"python:{short}-alpine", ("alpine", f"python{short}-alpine"), config)]
    return bases


class Builder:
    """One architecture's layers, each made once: packages unpacked into a tree, tarred, gzipped."""

    def __init__(self, arch: str, layout: Layout):
        self.arch, self.layout, self.work = arch, layout, WORK / arch
        self.stages: dict[str, list[debs.Deb]] = {}
        self._python = threading.Lock()  # the Python layers share one unpacked source tree

    def fetch(self) -> None:
        self.stages = debs.download(self.arch, self.work / "debs")

    def layer(self, name: str) -> Layer:
        key = f"{RECIPE}/{self.arch}/{name}"
        if found := self.layout.known().get(key):
            return found
        tree = self.tree(name)
        made = self.layout.layer(tree)
        shutil.rmtree(tree)
        self.layout.remember(key, made)
        return made

    def tree(self, name: str) -> Path:
        if name.startswith("python"):
            short, flavor = name.removeprefix("python").split("-")
            return self.python(short, flavor)
        return getattr(self, f"_{name}")(self.work / "trees" / name)

    def _packages(self, *stages: str) -> list[debs.Deb]:
        return [deb for stage in stages for deb in self.stages[stage]]

    def _os(self, tree: Path, strip: bool) -> Path:
        debs.unpack(self._packages("os"), tree)
        for path in DOCS if strip else ():
            shutil.rmtree(tree / path, ignore_errors=True)
        debs.link_merged(tree)
        (tree / "usr" / "local" / "bin").mkdir(parents=True, exist_ok=True)
        return self._status(tree, "os")

    def _slim(self, tree: Path) -> Path:
        return self._os(tree, strip=True)

    def _bookworm(self, tree: Path) -> Path:
        return self._os(tree, strip=False)

    def _status(self, tree: Path, *stages: str) -> Path:
        status = tree / "var" / "lib" / "dpkg" / "status"
        status.parent.mkdir(parents=True, exist_ok=True)
        status.write_text(debs.status(self._packages(*stages)))
        return tree

    def _upper(self, tree: Path, stage: str, below: list[str]) -> Path:
        """A stage's own packages, and the dpkg database of everything up to it (as each real layer rewrites it)."""
        return self._status(debs.unpack(self._packages(stage), tree), *below, stage)

    def _curl(self, tree: Path) -> Path:
        return self._upper(tree, "curl", ["os"])

    def _scm(self, tree: Path) -> Path:
        return self._upper(tree, "scm", ["os", "curl"])

    def _dev(self, tree: Path) -> Path:
        return self._upper(tree, "dev", ["os", "curl", "scm"])

    def _huge(self, tree: Path) -> Path:
        """Incompressible bytes: gzip keeps them at their size, and every byte must be read and moved."""
        shutil.rmtree(tree, ignore_errors=True)
        (tree / "opt" / "huge").mkdir(parents=True)
        count, size = HUGE
        for i in range(count):
            with (tree / "opt" / "huge" / f"part-{i}.bin").open("wb") as out:
                for _ in range(size >> 24):
                    out.write(os.urandom(1 << 24))
        return tree

    def _alpine(self, tree: Path) -> Path:
        debs.unpack(self._packages("alpine"), tree)
        for path in DOCS:
            shutil.rmtree(tree / path, ignore_errors=True)
        debs.link_merged(tree)
        for applet in APPLETS:
            (tree / "usr" / "bin" / applet).unlink(missing_ok=True)
            (tree / "usr" / "bin" / applet).symlink_to("busybox")
        _write(tree / "etc" / "os-release", 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.3\n'
               'PRETTY_NAME="stand-in for Alpine Linux v3.20 (Debian busybox-static and musl)"\n')
        _write(tree / "lib" / "apk" / "db" / "installed", APK.format(arch=self.arch))
        _write(tree / "etc" / "passwd", "root:x:0:0:root:/root:/bin/sh\n")
        (tree / "usr" / "local" / "bin").mkdir(parents=True, exist_ok=True)
        (tree / "tmp").mkdir(mode=0o1777, exist_ok=True)
        return tree

    def _distroless(self, tree: Path) -> Path:
        shutil.rmtree(tree, ignore_errors=True)
        _write(tree / "etc" / "passwd", "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n")
        _write(tree / "etc" / "group", "root:x:0:\nnonroot:x:65532:\n")
        _write(tree / "etc" / "os-release", 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="stand-in for distroless, no shell"\n')
        certificates = next(d for d in self.stages["curl"] if d.package == "ca-certificates")
        subprocess.run(["dpkg-deb", "-x", str(certificates.path), str(tree)], check=True)
        shutil.rmtree(tree / "usr" / "sbin", ignore_errors=True)  # update-ca-certificates: a shell script
        (tree / "home" / "nonroot").mkdir(parents=True)
        return tree

    def python_source(self) -> Path:
        source = self.work / "trees" / "python-source"
        with self._python:
            if (source / "usr").exists():
                return source
            wanted = set(debs.PYTHON)
            debs.unpack([d for stage in self.stages.values() for d in stage if d.package in wanted], source)
            return source

    def heavy_source(self) -> Path:
        """Debian's Python debug build and test suite, unpacked once: the heavy set's extra content."""
        source = self.work / "trees" / "python-heavy-source"
        with self._python:
            if not (source / "usr").exists():
                debs.unpack(self.stages["heavy"], source)
            return source / "usr"

    def python(self, short: str, flavor: str) -> Path:
        """Debian's Python 3.11 as if built into /usr/local for 3.X; `full` with headers and static library."""
        source, tree = self.python_source(), self.work / "trees" / f"python{short}-{flavor}"
        shutil.rmtree(tree, ignore_errors=True)
        local = tree / "usr" / "local"
        full = flavor in ("full", "heavy")
        ignore = None if full else shutil.ignore_patterns("config-3.11-*", "test", "tests", "*.a")
        shutil.copytree(source / "usr/lib/python3.11", local / f"lib/python{short}", symlinks=True, ignore=ignore)
        for lib in (source / "usr/lib" / ARCHES[self.arch]).glob("libpython3.11*"):
            if full or not lib.name.endswith(".a"):
                shutil.copy2(lib, local / "lib" / lib.name.replace("3.11", short), follow_symlinks=False)
        if full:
            shutil.copytree(source / "usr/include/python3.11", local / f"include/python{short}", symlinks=True)
        if flavor == "heavy":
            shutil.copytree(self.heavy_source(), local / f"lib/python{short}/debug-build", symlinks=True)
        shutil.copy2(source / "usr/bin/python3.11", _parent(local / "bin" / f"python{short}"))
        _write(local / "bin" / "python", f'#!/bin/sh\necho "Python {PYTHONS[short]}"\n', 0o755)
        (local / "bin" / "python3").symlink_to("python")
        _write(local / f"lib/python{short}" / "STAND-IN", f"Python {PYTHONS[short]} ({flavor}): Debian's 3.11 files\n")
        return tree


def _parent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    _parent(path).write_text(text)
    path.chmod(mode)


@dataclass(frozen=True)
class Built:
    """What the layout holds: each base's index and, per architecture, its layers."""

    indexes: dict[str, dict]  # ref -> index descriptor
    layers: dict[str, dict[str, Layer]]  # arch -> recipe name -> layer

    def totals(self, bases: list[Base]) -> dict[str, int]:
        """Per architecture, the compressed bytes of the distinct layers these bases use."""
        used = {(arch, name) for base in bases for arch in base.arches for name in base.layers}
        return {arch: sum(layer.size for name, layer in found.items() if (arch, name) in used)
                for arch, found in self.layers.items() if any(a == arch for a, _ in used)}


def build(layout: Layout, kind: str) -> Built:
    """Every base of the set, on its architectures: packages fetched, layers made (or found), images written."""
    builders = [Builder(arch, layout) for arch in ARCHES]
    with ThreadPoolExecutor(len(builders)) as pool:
        list(pool.map(Builder.fetch, builders))
    jobs = sorted({(b, name) for base in catalog(kind) for b in builders if b.arch in base.arches for name in base.layers},
                  key=lambda job: (job[1], job[0].arch))
    with ThreadPoolExecutor(2) as pool:  # tar | gzip: one per core
        made = list(pool.map(lambda job: job[0].layer(job[1]), jobs))
    layers = {arch: {} for arch in ARCHES}
    for (builder, name), layer in zip(jobs, made):
        layers[builder.arch][name] = layer
    indexes = {base.ref: _index(layout, base, layers) for base in catalog(kind)}
    return Built(indexes, layers)


def _index(layout: Layout, base: Base, layers: dict[str, dict[str, Layer]]) -> dict:
    images = [_image(layout, base, arch, [layers[arch][name] for name in base.layers]) for arch in base.arches]
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": images}
    return layout.blob(json.dumps(index, indent=1).encode(), index["mediaType"])


def _image(layout: Layout, base: Base, arch: str, layers: list[Layer]) -> dict:
    # As Docker Hub's official images: arm64 says variant v8, in the config and in the index.
    where = {"architecture": arch, "os": "linux", **({"variant": "v8"} if arch == "arm64" else {})}
    config = {**where, "created": "2024-11-12T00:00:00Z", "config": base.config,
              "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]}}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": layout.blob(json.dumps(config, indent=1).encode(), "application/vnd.oci.image.config.v1+json"),
                "layers": [{"mediaType": GZIP, "digest": layer.digest, "size": layer.size} for layer in layers]}
    return {**layout.blob(json.dumps(manifest, indent=1).encode(), manifest["mediaType"]), "platform": where}


def _named(kind: str, base: Base) -> str:
    """Its name in the layout's index.json: the standard set's plain, the others' after their set's name."""
    return f"{'' if kind == 'standard' else kind + '/'}{base.path}:{base.tag}"


def load(kind: str = "standard") -> Built:
    """The set's bases as built before (its manifest record, every blob present), else built now and recorded."""
    layout, record = Layout(WORK / "oci"), WORK / ("manifest.json" if kind == "standard" else f"manifest-{kind}.json")
    if record.exists():
        saved = json.loads(record.read_text())
        built = Built(saved["indexes"], {a: {n: Layer(**l) for n, l in found.items()} for a, found in saved["layers"].items()})
        if saved.get("recipe") == RECIPE and all(layout.has(i["digest"]) for i in built.indexes.values()):
            return built
    built = build(layout, kind)
    layout.write_index({_named(kind, b): built.indexes[b.ref] for b in catalog(kind)})
    layers = {arch: {name: asdict(layer) for name, layer in found.items()} for arch, found in built.layers.items()}
    record.write_text(json.dumps({"recipe": RECIPE, "indexes": built.indexes, "layers": layers,
                                  "totals": built.totals(catalog(kind))}, indent=1, sort_keys=True))
    return built


def push(host: str, kind: str = "standard") -> None:
    """Each base's index, manifests and blobs copied as they are (no recompression) to HOST/library/..."""
    built, layout = load(kind), WORK / "oci"
    for base in catalog(kind):
        if _holds(host, base, built.indexes[base.ref]["digest"]):
            continue
        subprocess.run(["skopeo", "copy", "--quiet", "--all", "--preserve-digests", "--dest-tls-verify=false",
                        f"oci:{layout}:{_named(kind, base)}", f"docker://{host}/{base.path}:{base.tag}"],
                       check=True, capture_output=True)


def _holds(host: str, base: Base, digest: str) -> bool:
    request = urllib.request.Request(f"http://{host}/v2/{base.path}/manifests/{base.tag}", method="HEAD",
                                     headers={"Accept": "application/vnd.oci.image.index.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.headers.get("Docker-Content-Digest") == digest
    except urllib.error.HTTPError:
        return False


def serve(kind: str = "standard") -> RegistryServer:
    """A loopback registry (Debian's docker-registry) holding the set's bases; its storage is kept between runs."""
    mirror = RegistryServer(WORK / ("registry" if kind == "standard" else f"registry-{kind}"))
    mirror.root.mkdir(parents=True, exist_ok=True)
    mirror.start()
    push(mirror.host, kind)
    return mirror


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=SETS, default="standard", dest="kind", help="which bases (default: standard)")
    parser.add_argument("--push", action="store_true", help="also serve a loopback registry and push every base to it")
    args = parser.parse_args()
    start = time.perf_counter()
    built, bases = load(args.kind), catalog(args.kind)
    print(f"bases ready in {time.perf_counter() - start:.1f} s under {WORK}")
    for arch, total in built.totals(bases).items():
        print(f"  linux/{arch}: {total / 1e6:.0f} MB compressed, distinct layers of {len(bases)} bases")
    for base in bases:
        sizes = [built.layers["amd64"][name].size / 1e6 for name in base.layers]
        print(f"  {base.ref:<36} {sum(sizes):7.1f} MB amd64 ({' + '.join(f'{s:.1f}' for s in sizes)})")
    if args.push:
        start = time.perf_counter()
        mirror = serve(args.kind)
        print(f"pushed to {mirror.host} in {time.perf_counter() - start:.1f} s")
        mirror.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
