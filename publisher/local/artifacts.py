"""The payload files each platform's image copies: from the matrix's wheels or a folder, verified, run."""

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
from email.message import Message
from email.parser import Parser
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from packaging.utils import InvalidWheelFilename, canonicalize_name, canonicalize_version, parse_wheel_filename

from publisher.errors import Problems, PublisherError
from publisher.image.platform import Platform
from publisher.local import index
from publisher.release.verdicts import judge
from publisher.matrix.schema import SmokeTest
from publisher.matrix.payload import Payload, Wheels

RUN_TIMEOUT = 30


def fetch_wheels(
    payload: Payload, version: str, platforms: list[Platform], cache: Path, python: str = sys.executable
) -> dict[Platform, Path]:
    """Platform -> folder holding the payload's files from its wheel, checked against the wheel's RECORD.

    Wheels are kept in `<cache>/wheels/<wheel platform tag>/` and downloaded only when missing;
    files land in `<cache>/binaries/<package>/<version>/<os>-<arch>/`.
    """
    wheels = payload.wheels
    if wheels is None:
        raise PublisherError("the matrix's payload declares no wheels: pass --artifacts DIR, or add payload.wheels")
    tags = {platform: wheel_platform(wheels, platform) for platform in platforms}
    binaries = {}
    for platform, tag in tags.items():
        wheel = cached_wheel(wheels.package, version, tag, cache) or _downloaded(payload, version, tag, platforms, cache, python)
        binaries[platform] = extract_binaries(wheel, payload, binaries_folder(cache, wheels.package, version, platform))
    return binaries


def check_release(payload: Payload, version: str, platforms: list[Platform], python: str = sys.executable) -> None:
    """The package index has `version`'s wheels with the matrix's platform tags (nothing is downloaded)."""
    if payload.wheels is not None:
        listing = index.list_wheels(payload.wheels.package, payload.wheels.python, python)
        Problems.of(index.release_problems(listing, payload, version, platforms)).raise_if_any()


def _downloaded(payload: Payload, version: str, tag: str, platforms: list[Platform], cache: Path, python: str) -> Path:
    """The wheel from the index; when pip cannot have it, why, said at the matrix's line when the index tells."""
    try:
        return download_wheel(payload.wheels, version, tag, cache, python)
    except PublisherError as failed:
        try:
            listing = index.list_wheels(payload.wheels.package, payload.wheels.python, python)
        except PublisherError:
            raise failed from None
        raise PublisherError(*(index.release_problems(listing, payload, version, platforms) or failed.lines)) from None


def from_directory(root: Path, platforms: list[Platform], files: tuple[str, ...]) -> dict[Platform, Path]:
    """Platform -> folder holding the payload's files, from a directory laid out as `<root>/<os>-<arch>/`.

    For example `<root>/linux-amd64/<file>` and `<root>/linux-arm64/<file>` for each file.
    """
    problems = Problems()
    binaries = {}
    for platform in platforms:
        folder = root / folder_name(platform)
        binaries[platform] = folder
        if not folder.is_dir():
            problems.add(f"--artifacts: no folder for {platform}: expected {folder}")
            continue
        for name in files:
            if not (folder / name).is_file():
                problems.add(f"--artifacts: no {name} for {platform}: expected {folder / name}")
    problems.raise_if_any()
    return binaries


def check_runs(binaries: dict[Platform, Path], version: str, payload: Payload) -> None:
    """Run `<file> --version` of each checked file on each platform; its output must match the matrix's pattern.
    A mismatch names the file's line in the matrix, the pattern as written there, and what the file printed."""
    runs = [(platform, folder / name, pattern) for platform, folder in binaries.items() for name, pattern in payload.checks.items()]
    with ThreadPoolExecutor(max(1, len(runs))) as pool:  # an arm64 binary under qemu takes a while to start
        found = list(pool.map(lambda run: version_problem(run[0], run[1], version, run[2]), runs))
    where = {name: f"{payload.lines.of_file(name)}: payload.files.{name}" for name in payload.checks}
    Problems.of(f"{where[binary.name]}: {platform}: {problem}" for (platform, binary, _), problem in zip(runs, found)
                if problem).raise_if_any()


def wheel_platform(wheels: Wheels, platform: Platform) -> str:
    try:
        return wheels.platforms[platform]
    except KeyError:
        known = ", ".join(map(str, wheels.platforms))
        raise PublisherError(f"no {wheels.package} wheel for platform {platform}: payload.wheels.platforms "
                             f"knows {known}; add its wheel platform tag") from None


def folder_name(platform: Platform) -> str:
    return platform.text("-")


def binaries_folder(cache: Path, package: str, version: str, platform: Platform) -> Path:
    """Where the files of `package`'s wheel for `platform` are extracted."""
    return cache / "binaries" / canonicalize_name(package) / version / folder_name(platform)


def cached_wheel(package: str, version: str, tag: str, cache: Path) -> Path | None:
    folder = cache / "wheels" / tag
    matches = sorted(p for p in folder.glob("*.whl") if is_wheel_for(p, package, version, tag))
    return matches[0] if matches else None


def is_wheel_for(wheel: Path, package: str, version: str, tag: str) -> bool:
    try:
        name, wheel_version, _, tags = parse_wheel_filename(wheel.name)
    except InvalidWheelFilename:
        return False
    return (
        name == canonicalize_name(package)
        and canonicalize_version(wheel_version) == canonicalize_version(version)
        and any(t.platform == tag for t in tags)
    )


def download_wheel(wheels: Wheels, version: str, tag: str, cache: Path, python: str) -> Path:
    folder = cache / "wheels" / tag
    folder.mkdir(parents=True, exist_ok=True)
    platform = next(p for p, t in wheels.platforms.items() if t == tag)
    failed = f"cannot download {wheels.package} {version} for {platform} ({tag})"
    # Into a folder of our own, then renamed: a publish sharing the cache never sees half a wheel.
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as private:
        result = index.pip_download(python, ["--platform", tag, f"{wheels.package}=={version}", "-d", private],
                                    wheels.python, failed)
        if result.returncode != 0:
            raise PublisherError(f"{failed}: {last_error_line(result.stderr or result.stdout)}")
        for wheel in Path(private).glob("*.whl"):
            os.replace(wheel, folder / wheel.name)
    wheel = cached_wheel(wheels.package, version, tag, cache)
    if wheel is None:
        raise PublisherError(f"{failed}: pip reported success but no matching wheel is in {folder}")
    return wheel


def last_error_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    return (errors or lines or ["pip failed without output"])[-1]


class OpenWheel:
    """A wheel opened once (`opened_wheel`): its RECORD read, each member read checked against it."""

    def __init__(self, wheel: Path, archive: zipfile.ZipFile):
        self.wheel, self.archive = wheel, archive
        self.record_path, self.record = read_record(wheel, archive)

    @property
    def scripts_folder(self) -> str:
        """Where it holds what it installs as scripts: `<name>-<version>.data/scripts/`, beside its RECORD's folder."""
        return self.record_path.removesuffix(".dist-info/RECORD") + ".data/scripts/"

    def scripts(self) -> list[str]:
        """The files it installs as scripts, by name."""
        return scripts(self.archive.namelist(), self.scripts_folder)

    def verified(self, member: str) -> bytes:
        return verified_member(self.wheel, self.archive, self.record, member)

    def metadata(self) -> Message | None:
        """Its METADATA (name, summary, licence...), as email headers; None if it has none."""
        try:
            data = self.archive.read(self.record_path.removesuffix("RECORD") + "METADATA")
        except KeyError:
            return None
        return Parser().parsestr(data.decode("utf-8", "replace"))


@contextmanager
def opened_wheel(wheel: Path) -> Iterator[OpenWheel]:
    with zipfile.ZipFile(wheel) as archive:
        yield OpenWheel(wheel, archive)


def extract_binaries(wheel: Path, payload: Payload, folder: Path) -> Path:
    with opened_wheel(wheel) as opened:
        return extracted(opened, payload, folder)


def extracted(opened: OpenWheel, payload: Payload, folder: Path) -> Path:
    """The payload's files out of the wheel into `folder`, each checked against its RECORD."""
    folder.mkdir(parents=True, exist_ok=True)
    held = opened.scripts()
    Problems.of([f"{payload.lines.of_file(name)}: payload.files.{name}: no file {name} in {opened.wheel.name}, which holds "
                 f"{', '.join(held) or 'no executable'}; name one of them" for name in payload.files
                 if name not in held]).raise_if_any()
    for name in payload.files:
        write_executable(folder / name, opened.verified(opened.scripts_folder + name))
    return folder


def wheel_sboms(wheel: Path) -> dict[str, bytes]:
    """The SBOM documents the wheel carries (PEP 770: `<name>.dist-info/sboms/`), by file name, each
    checked against the wheel's RECORD."""
    with opened_wheel(wheel) as opened:
        folder = opened.record_path.removesuffix("RECORD") + "sboms/"
        return {member.removeprefix(folder): opened.verified(member)
                for member in sorted(opened.archive.namelist()) if member.startswith(folder) and not member.endswith("/")}


def scripts(members: list[str], data: str) -> list[str]:
    """The files a wheel installs as scripts (into the environment's bin/), by name."""
    return sorted(m.removeprefix(data) for m in members if m.startswith(data) and "/" not in m.removeprefix(data) and m != data)


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


def version_problem(platform: Platform, binary: Path, version: str, pattern: str) -> str | None:
    """What is wrong with `<binary> --version` against `pattern` as the matrix writes it; None when it matches."""
    try:
        result = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=RUN_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return f"`{binary.name} --version` did not finish within {RUN_TIMEOUT} s"
    except OSError as error:
        return run_failure(platform, binary, error)
    if result.returncode != 0:
        return f"`{binary.name} --version` exited with {result.returncode}: {printed(result.stderr or result.stdout)}"
    if judge(SmokeTest(("--version",), pattern), version, result.returncode, result.stdout, result.stderr):
        stands = version or "any version"
        return f"`{binary.name} --version` printed {printed(result.stdout)}, which does not match \"{pattern}\" ({{version}}: {stands})"
    return None


def printed(output: str) -> str:
    """What a file printed, on one line: its first line, and how many more there were."""
    lines = output.strip().splitlines() or ["nothing"]
    more = f" (and {len(lines) - 1} more lines)" if len(lines) > 1 else ""
    return f"'{lines[0][:200]}'{more}"


def run_failure(platform: Platform, binary: Path, error: OSError) -> str:
    if error.errno == errno.ENOEXEC:
        return (
            f"cannot execute {binary} (exec format error): to run {platform} binaries "
            "on this machine, install qemu-user-static and binfmt-support"
        )
    return f"cannot run {binary}: {error.strerror}"
