"""Stand-in base images for tests, made here: busybox for both platforms, pushed with skopeo.

Written as an OCI layout by plain code and copied by skopeo, so the fixtures do not depend on the
registry client under test. Layers are byte-reproducible, so bases share blobs.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUSYBOX = ROOT / ".work" / "busybox"  # filled by .ci/setup: linux-amd64/busybox, linux-arm64/busybox
APPLETS = ("sh", "ls", "cat", "echo", "uname", "env", "true", "false", "test")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def need_busybox(platform: str) -> Path:
    path = BUSYBOX / platform.replace("/", "-") / "busybox"
    if not path.exists():
        message = f"{path} is missing: run bash .ci/setup"
        pytest.fail(message) if os.environ.get("CI") == "true" else pytest.skip(message)
    return path


def _tar(entries: list[tuple]) -> bytes:
    """(name, content or None for a directory, symlink target, mode[, mtime]) → a reproducible tar."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content, link, mode, *when in entries:
            info = tarfile.TarInfo(name)
            info.mtime, info.mode = (when or [0])[0], mode
            if link:
                info.type, info.linkname = tarfile.SYMTYPE, link
            elif content is None:
                info.type = tarfile.DIRTYPE
            else:
                info.size = len(content)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return out.getvalue()


def _busybox_layer(platform: str) -> bytes:
    dirs = [(d, None, None, 0o755) for d in ("bin", "etc", "tmp", "usr", "usr/local", "usr/local/bin")]
    files = [("bin/busybox", need_busybox(platform).read_bytes(), None, 0o755)]
    links = [(f"bin/{a}", None, "busybox", 0o777) for a in APPLETS]
    return _tar(dirs + files + links)


def _identity_layer(name: str, python: str | None) -> bytes:
    # Like real bases, each has its own /usr/local/bin metadata (here its time), which a COPY
    # into that folder carries into its layer.
    when = int(hashlib.sha256(name.encode()).hexdigest()[:7], 16)
    dirs = [(d, None, None, 0o755, when) for d in ("usr", "usr/local", "usr/local/bin")]
    entries = package_database(name)
    if python:
        script = f'#!/bin/sh\necho "Python {python}.0"\n'.encode()
        entries.append(("usr/local/bin/python", script, None, 0o755))
    return _tar(dirs + [(*e, 0) for e in entries])


APK = ("P:busybox\nV:1.36.1-r29\nA:{arch}\nL:GPL-2.0-only\nT:Size optimized toolbox\no:busybox\n\n"
       "P:musl\nV:1.2.5-r0\nA:{arch}\nL:MIT\nT:the musl c library\no:musl\n\n")
DPKG = ("Package: busybox\nStatus: install ok installed\nArchitecture: {arch}\nVersion: 1:1.35.0-4+b3\n\n"
        "Package: libc6\nStatus: install ok installed\nArchitecture: {arch}\nSource: glibc\nVersion: 2.36-9+deb12u9\n\n"
        "Package: old-tool\nStatus: deinstall ok config-files\nArchitecture: {arch}\nVersion: 1.0\n\n")


NONROOT = "65532"  # distroless' and Docker Hardened Images' non-root user
PASSWD = f"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:{NONROOT}:{NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n"
GROUP = f"root:x:0:\nnonroot:x:{NONROOT}:\n"
STATUS_D = {"base-files": "Package: base-files\nArchitecture: {arch}\nVersion: 13.8\n",
            "libc6": "Package: libc6\nArchitecture: {arch}\nSource: glibc\nVersion: 2.41-12\n"}


def _hardened_layer(name: str, platform: str, packages: bool) -> bytes:
    """A hardened base's one layer: no shell, no busybox, nothing to run; os-release, a non-root user
    and, with `packages`, a distroless-style package database (one stanza file per package)."""
    arch = platform.split("/")[1]
    dirs = [(d, None, None, 0o755) for d in ("etc", "home", "home/nonroot", "usr", "usr/lib", "var", "var/lib")]
    dirs.append(("tmp", None, None, 0o1777))
    release = f'ID=debian\nVERSION_ID="13"\nVERSION_CODENAME=trixie\nPRETTY_NAME="stand-in for {name}, no shell"\n'
    files = [("etc/passwd", PASSWD.encode(), None, 0o644),
             ("etc/group", GROUP.encode(), None, 0o644), ("usr/lib/os-release", release.encode(), None, 0o644),
             ("etc/os-release", None, "../usr/lib/os-release", 0o777)]
    if packages:
        dirs += [(d, None, None, 0o755) for d in ("var/lib/dpkg", "var/lib/dpkg/status.d")]
        files += [(f"var/lib/dpkg/status.d/{n}", s.format(arch=arch).encode(), None, 0o644) for n, s in STATUS_D.items()]
    return _tar(dirs + files)


def package_database(name: str, arch: str = "all") -> list[tuple]:
    """os-release and a small package database like the real base's: apk on alpine, dpkg elsewhere."""
    if "alpine" in name:
        release = f'ID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME="stand-in for {name}"\n'
        database = ("lib/apk/db/installed", APK.format(arch="noarch"))
    else:
        release = f'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nPRETTY_NAME="stand-in for {name}"\n'
        database = ("var/lib/dpkg/status", DPKG.format(arch=arch))
    return [("etc/os-release", release.encode(), None, 0o644), (database[0], database[1].encode(), None, 0o644)]


class Layout:
    """An OCI image layout on disk."""

    def __init__(self, path: Path):
        self.path = path
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')

    def blob(self, data: bytes, media_type: str) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        (self.path / "blobs" / "sha256" / digest).write_bytes(data)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}

    def image(self, platform: str, layers: list[bytes], settings: dict | None = None) -> dict:
        """`settings`: the config's `config`; default: PATH and `/bin/sh` as the command."""
        arch = platform.split("/")[1]
        # As Docker Hub's official images: arm64 says variant v8, in the config and in the index.
        where = {"architecture": arch, "os": "linux", **({"variant": "v8"} if arch == "arm64" else {})}
        diff_ids = [f"sha256:{hashlib.sha256(layer).hexdigest()}" for layer in layers]
        config = {**where, "config": settings or {"Env": [f"PATH={PATH}"], "Cmd": ["/bin/sh"]},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": self.blob(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json"),
            "layers": [self.blob(gzip.compress(layer, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip") for layer in layers],
        }
        entry = self.blob(json.dumps(manifest).encode(), manifest["mediaType"])
        return {**entry, "platform": where}

    def index(self, tag: str, images: list[dict]) -> None:
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": images}
        entry = self.blob(json.dumps(index).encode(), index["mediaType"])
        entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
        top = self.path / "index.json"
        existing = json.loads(top.read_text())["manifests"] if top.exists() else []
        top.write_text(json.dumps({"schemaVersion": 2, "manifests": existing + [entry]}))


def push_base(work: Path, host: str, base: str, platforms: list[str], python: str | None = None,
              shell: bool = True, packages: bool = True) -> str:
    """Make a stand-in for `base` (e.g. alpine:3.20) and push it to HOST/library/... with skopeo.

    `shell=False`: a hardened or distroless base: no /bin/sh, no busybox, a non-root user, no command;
    `packages=False` leaves its package database out.
    """
    name, _, tag = base.partition(":")
    path = name if "/" in name else f"library/{name}"
    layout = Layout(work / f"{path.replace('/', '_')}_{tag}")
    if shell:
        images = [layout.image(p, [_busybox_layer(p), _identity_layer(base, python)]) for p in platforms]
    else:
        hardened = {"Env": [f"PATH={PATH}"], "User": f"{NONROOT}:{NONROOT}", "WorkingDir": "/home/nonroot"}
        images = [layout.image(p, [_hardened_layer(base, p, packages)], hardened) for p in platforms]
    layout.index(tag, images)
    target = f"docker://{host}/{path}:{tag}"
    subprocess.run(["skopeo", "copy", "--quiet", "--all", "--dest-tls-verify=false", f"oci:{layout.path}:{tag}", target],
                   check=True, capture_output=True)
    return f"{host}/{path}:{tag}"
