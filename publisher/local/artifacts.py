"""The uv and uvx binaries each platform's image copies: from uv's wheels or a folder, verified, run."""

from __future__ import annotations

import base64
import csv
import errno
import hashlib
import io
import os
import re
import subprocess
import tempfile
import sys
import zipfile
from pathlib import Path

from packaging.utils import InvalidWheelFilename, canonicalize_version, parse_wheel_filename

from publisher.errors import Problems, PublisherError

WHEEL_PLATFORMS = {"linux/amd64": "musllinux_1_1_x86_64", "linux/arm64": "musllinux_1_1_aarch64"}
BINARIES = ("uv", "uvx")
RUN_TIMEOUT = 30


def fetch_wheels(
    version: str, platforms: list[str], cache: Path, python: str = sys.executable
) -> dict[str, Path]:
    """Platform -> folder holding uv and uvx from uv's wheel, checked against the wheel's RECORD.

    Wheels are kept in `<cache>/wheels/<wheel platform tag>/` and downloaded only when missing;
    binaries land in `<cache>/binaries/<version>/<os>-<arch>/`.
    """
    tags = {platform: wheel_platform(platform) for platform in platforms}
    binaries = {}
    for platform, tag in tags.items():
        wheel = cached_wheel(version, tag, cache) or download_wheel(version, platform, tag, cache, python)
        binaries[platform] = extract_binaries(wheel, cache / "binaries" / version / folder_name(platform))
    return binaries


def from_directory(root: Path, platforms: list[str]) -> dict[str, Path]:
    """Platform -> folder holding uv and uvx, from a directory laid out as `<root>/<os>-<arch>/`.

    For example `<root>/linux-amd64/uv`, `<root>/linux-amd64/uvx`, `<root>/linux-arm64/uv`,
    `<root>/linux-arm64/uvx`.
    """
    problems = Problems()
    binaries = {}
    for platform in platforms:
        folder = root / folder_name(platform)
        binaries[platform] = folder
        if not folder.is_dir():
            problems.add(f"--artifacts: no folder for {platform}: expected {folder}")
            continue
        for name in BINARIES:
            if not (folder / name).is_file():
                problems.add(f"--artifacts: no {name} for {platform}: expected {folder / name}")
    problems.raise_if_any()
    return binaries


def check_runs(binaries: dict[str, Path], version: str) -> None:
    """Run `uv --version` of each platform and require it to print `uv <version>`."""
    problems = Problems()
    for platform, folder in binaries.items():
        problem = version_problem(platform, folder / "uv", version)
        if problem:
            problems.add(problem)
    problems.raise_if_any()


def wheel_platform(platform: str) -> str:
    try:
        return WHEEL_PLATFORMS[platform]
    except KeyError:
        known = ", ".join(WHEEL_PLATFORMS)
        raise PublisherError(f"no uv wheel for platform {platform}: known platforms are {known}") from None


def folder_name(platform: str) -> str:
    return platform.replace("/", "-")


def cached_wheel(version: str, tag: str, cache: Path) -> Path | None:
    folder = cache / "wheels" / tag
    matches = sorted(p for p in folder.glob("uv-*.whl") if is_wheel_for(p, version, tag))
    return matches[0] if matches else None


def is_wheel_for(wheel: Path, version: str, tag: str) -> bool:
    try:
        name, wheel_version, _, tags = parse_wheel_filename(wheel.name)
    except InvalidWheelFilename:
        return False
    return (
        name == "uv"
        and canonicalize_version(wheel_version) == canonicalize_version(version)
        and any(t.platform == tag for t in tags)
    )


def download_wheel(version: str, platform: str, tag: str, cache: Path, python: str) -> Path:
    folder = cache / "wheels" / tag
    folder.mkdir(parents=True, exist_ok=True)
    failed = f"cannot download uv {version} for {platform} ({tag})"
    # Into a folder of our own, then renamed: a publish sharing the cache never sees half a wheel.
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as private:
        command = [python, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps"]
        command += ["--only-binary=:all:", "--platform", tag, f"uv=={version}", "-d", private]
        try:
            result = subprocess.run(command, capture_output=True, text=True)
        except OSError as error:
            raise PublisherError(f"{failed}: cannot run {python}: {error.strerror}") from None
        if result.returncode != 0:
            raise PublisherError(f"{failed}: {last_error_line(result.stderr or result.stdout)}")
        for wheel in Path(private).glob("*.whl"):
            os.replace(wheel, folder / wheel.name)
    wheel = cached_wheel(version, tag, cache)
    if wheel is None:
        raise PublisherError(f"{failed}: pip reported success but no matching wheel is in {folder}")
    return wheel


def last_error_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    return (errors or lines or ["pip failed without output"])[-1]


def extract_binaries(wheel: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        record_path, record = read_record(wheel, archive)
        data = record_path.removesuffix(".dist-info/RECORD") + ".data/scripts/"
        for name in BINARIES:
            content = verified_member(wheel, archive, record, data + name)
            write_executable(folder / name, content)
    return folder


def read_record(wheel: Path, archive: zipfile.ZipFile) -> tuple[str, dict[str, tuple[str, str]]]:
    """The RECORD's path in the wheel, and path -> (hash, size) for each of its lines."""
    paths = [n for n in archive.namelist() if re.fullmatch(r"[^/]+\.dist-info/RECORD", n)]
    if len(paths) != 1:
        raise PublisherError(f"{wheel.name}: expected one .dist-info/RECORD, found {len(paths)}")
    text = archive.read(paths[0]).decode("utf-8")
    rows = (row for row in csv.reader(io.StringIO(text)) if len(row) == 3)
    return paths[0], {path: (digest, size) for path, digest, size in rows}


def verified_member(wheel: Path, archive: zipfile.ZipFile, record: dict, member: str) -> bytes:
    if member not in record:
        raise PublisherError(f"{wheel.name}: {member} is not listed in the wheel's RECORD")
    try:
        content = archive.read(member)
    except KeyError:
        raise PublisherError(f"{wheel.name}: {member} is listed in RECORD but missing") from None
    digest, size = record[member]
    if digest != record_digest(content) or size != str(len(content)):
        raise PublisherError(f"{wheel.name}: {member} does not match its RECORD hash and size")
    return content


def record_digest(content: bytes) -> str:
    raw = hashlib.sha256(content).digest()
    return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def write_executable(path: Path, content: bytes) -> None:
    # A name of this process's own: publishes sharing a cache may extract at the same time.
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_bytes(content)
    partial.chmod(0o755)
    os.replace(partial, path)


def version_problem(platform: str, uv: Path, version: str) -> str | None:
    expected = f"uv {version}"
    try:
        result = subprocess.run(
            [str(uv), "--version"], capture_output=True, text=True, timeout=RUN_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return f"{platform}: {uv} --version did not finish within {RUN_TIMEOUT} s"
    except OSError as error:
        return run_failure(platform, uv, error)
    output = result.stdout.strip()
    if result.returncode == 0 and re.match(re.escape(expected) + r"(\s|$)", output):
        return None
    actual = (output or result.stderr.strip()).splitlines()[:1] or [""]
    return (
        f"{platform}: {uv} --version: expected {expected!r}, got {actual[0]!r}"
        f" (exit code {result.returncode})"
    )


def run_failure(platform: str, uv: Path, error: OSError) -> str:
    if error.errno == errno.ENOEXEC:
        return (
            f"{platform}: cannot execute {uv} (exec format error): to run {platform} binaries "
            "on this machine, install qemu-user-static and binfmt-support"
        )
    return f"{platform}: cannot run {uv}: {error.strerror}"
