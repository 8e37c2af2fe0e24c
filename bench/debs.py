"""Real Debian packages for the bench's stand-in bases, for any architecture, without running its code.

`debootstrap --download-only` resolves and fetches bookworm packages for ARCH (no qemu, nothing
run); each stage adds packages to the same folder, so a stage's own packages are the new lines of its
`debpaths`. `dpkg-deb -x` unpacks them into a tree. The mirror is read from this machine's apt
sources at run time.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SUITE = "bookworm"
SOURCES = [*sorted(Path("/etc/apt/sources.list.d").glob("*.sources")), Path("/etc/apt/sources.list")]
MERGED = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")  # bookworm is merged-/usr: these link into usr/


@dataclass(frozen=True)
class Stage:
    name: str
    packages: tuple[str, ...]


@dataclass(frozen=True)
class Deb:
    package: str
    path: Path


# As buildpack-deps:bookworm's Dockerfiles list them (curl, scm, then the build dependencies).
CURL = ("ca-certificates", "curl", "gnupg", "netbase", "wget")
SCM = ("git", "mercurial", "openssh-client", "subversion", "procps")
DEV = ("autoconf", "automake", "bzip2", "default-libmysqlclient-dev", "dpkg-dev", "file", "g++", "gcc", "imagemagick",
       "libbz2-dev", "libc6-dev", "libcurl4-openssl-dev", "libdb-dev", "libevent-dev", "libffi-dev", "libgdbm-dev",
       "libglib2.0-dev", "libgmp-dev", "libjpeg-dev", "libkrb5-dev", "liblzma-dev", "libmagickcore-dev",
       "libmagickwand-dev", "libmaxminddb-dev", "libncurses5-dev", "libncursesw5-dev", "libpng-dev", "libpq-dev",
       "libreadline-dev", "libsqlite3-dev", "libssl-dev", "libtool", "libwebp-dev", "libxml2-dev", "libxslt1-dev",
       "libyaml-dev", "make", "patch", "unzip", "xz-utils", "zlib1g-dev")
PYTHON = ("python3.11", "python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "libpython3.11",
          "libpython3.11-dev", "python3.11-dev")
# The heavy set's Python layers also carry Debian's debug build and test suite: real content, the size of a
# python:3.X-bookworm image's own layers (CPython built from source, with its tests).
HEAVY = ("python3.11-dbg", "libpython3.11-dbg", "libpython3.11-testsuite")
ALPINE = ("busybox-static", "musl", "musl-dev")
STAGES = (Stage("os", ()), Stage("curl", CURL), Stage("scm", SCM), Stage("dev", DEV), Stage("python", PYTHON),
          Stage("alpine", ALPINE), Stage("heavy", HEAVY))


def mirror() -> str:
    """The first Debian archive URI of this machine's apt sources (deb822 `URIs:` or a `deb` line)."""
    for source in SOURCES:
        if source.exists():
            found = re.search(r"^(?:URIs:\s*|deb\s+(?:\[[^]]*\]\s+)?)(\S+)", source.read_text(), re.M)
            if found and "security" not in found[1]:
                return found[1]
    raise RuntimeError("no Debian mirror in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list")


def download(arch: str, folder: Path) -> dict[str, list[Deb]]:
    """Every stage's own packages for ARCH, fetched into folder once (`stages.json` lists them after)."""
    record = folder / "stages.json"
    if record.exists():
        saved = {name: [Deb(p, folder / path) for p, path in debs] for name, debs in json.loads(record.read_text()).items()}
        if [s.name for s in STAGES] == list(saved) and all(d.path.exists() for debs in saved.values() for d in debs):
            return saved
    stages = _download(arch, folder)
    record.write_text(json.dumps({n: [(d.package, str(d.path.relative_to(folder))) for d in debs] for n, debs in stages.items()}))
    return stages


def _download(arch: str, folder: Path) -> dict[str, list[Deb]]:
    stages, seen, wanted = {}, set(), []
    for stage in STAGES:
        wanted += stage.packages
        debs = [d for d in _debootstrap(arch, folder, wanted) if d.package not in seen]
        seen.update(d.package for d in debs)
        stages[stage.name] = debs
    return stages


def _debootstrap(arch: str, folder: Path, include: list[str]) -> list[Deb]:
    argv = ["debootstrap", "--download-only", f"--arch={arch}", "--variant=minbase"]
    argv += [f"--include={','.join(include)}"] if include else []
    result = subprocess.run([*argv, SUITE, str(folder), mirror()], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"debootstrap {arch}: exit {result.returncode}: {result.stderr.strip()[-800:]}")
    lines = (folder / "debootstrap" / "debpaths").read_text().split("\n")
    return [Deb(name, folder / path.lstrip("/")) for name, path in (line.split() for line in lines if line)]


def unpack(debs: list[Deb], tree: Path) -> Path:
    """The packages' files in tree, /bin, /lib ... moved under usr/ (merged-/usr, as bookworm installs)."""
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb.path), str(tree)], check=True)
    for name in MERGED:
        _merge_into_usr(tree, name)
    return tree


def _merge_into_usr(tree: Path, name: str) -> None:
    top = tree / name
    if not top.is_dir() or top.is_symlink():
        return
    target = tree / "usr" / name
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", "--remove-destination", f"{top}/.", str(target)], check=True)
    shutil.rmtree(top)


def link_merged(tree: Path) -> None:
    """The merged-/usr links of an OS layer: /bin -> usr/bin and so on, for the folders usr/ has."""
    for name in MERGED:
        if (tree / "usr" / name).is_dir() and not (tree / name).exists():
            (tree / name).symlink_to(f"usr/{name}")


def status(debs: list[Deb]) -> str:
    """A dpkg status database listing these packages as installed, from their control files."""
    stanzas = []
    for deb in debs:
        control = subprocess.run(["dpkg-deb", "-f", str(deb.path)], capture_output=True, text=True, check=True).stdout
        package, rest = control.split("\n", 1)
        stanzas.append(f"{package}\nStatus: install ok installed\n{rest.rstrip()}\n")
    return "\n".join(stanzas)
