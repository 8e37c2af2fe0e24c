"""The payload: the files every image of the family carries, where they come from and land, how to check them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from publisher.image.platform import TEXT, Platform, parse_platform
from publisher.matrix.source import MISSING, Source, Where, describe, mapping, string, string_list

FOLDER = re.compile(r"/(?:[A-Za-z0-9_.-]+/)*")
FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
PACKAGE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
WHEEL_TAG = re.compile(r"[a-z0-9_]+")
PYTHON = re.compile(r"[0-9]+(?:\.[0-9]+)?")
PLATFORM_HINT = "write os/arch, e.g. linux/arm64"


@dataclass(frozen=True)
class Wheels:
    """Where the files come from when no --artifacts DIR is given: one wheel per platform from PyPI."""

    package: str  # e.g. the project's PyPI name
    platforms: dict[Platform, str]  # platform → wheel platform tag, e.g. linux/amd64 → musllinux_1_1_x86_64
    python: str | None = None  # pip's --python-version, for wheels tagged for some Pythons only


@dataclass(frozen=True)
class PayloadLines:
    """Where the payload is written in the matrix, for errors found once its wheels and files are read."""

    matrix: str = "matrix.yaml"  # the file as the user named it
    package: int = 1  # payload.wheels.package
    platforms: tuple[tuple[Platform, int], ...] = ()  # platform → the line of its wheel platform tag
    files: tuple[tuple[str, int], ...] = ()  # file → its line under payload.files

    def of_platform(self, platform: Platform) -> str:
        return f"{self.matrix}:{dict(self.platforms).get(platform, self.package)}"

    def of_file(self, name: str) -> str:
        return f"{self.matrix}:{dict(self.files).get(name, 1)}"

    def of_package(self) -> str:
        return f"{self.matrix}:{self.package}"


@dataclass(frozen=True)
class Payload:
    files: tuple[str, ...]  # file names, in the order the images list them
    checks: dict[str, str]  # file → what `<file> --version` prints (a regex; {version}: the release)
    primary: str  # the folder holding the files in the primary image, e.g. /
    derived: str  # the folder derived images copy them to, e.g. /usr/local/bin/
    wheels: Wheels | None = None
    lines: PayloadLines = PayloadLines()

    @property
    def sources(self) -> tuple[str, ...]:
        """The files' paths in the primary image, as a derived Dockerfile copies them."""
        return tuple(self.primary + name for name in self.files)

    @property
    def target(self) -> str:
        """The derived images' folder without leading or trailing '/', as layers name it."""
        return self.derived.strip("/")


KEYS = {"files", "primary", "derived", "wheels"}
FOLDER_HINT = "write an absolute folder ending in '/', e.g. /usr/local/bin/"


def read_payload(src: Source, value: object) -> Payload:
    where = ("payload",)
    doc = mapping(src, where, value, required=set(KEYS) - {"wheels"}, optional={"wheels"})
    files, checks = _files(src, doc.get("files", MISSING))
    primary = string(src, where + ("primary",), doc.get("primary", MISSING), FOLDER, FOLDER_HINT)
    derived = string(src, where + ("derived",), doc.get("derived", MISSING), FOLDER, FOLDER_HINT)
    if derived == "/":
        src.error(where + ("derived",), "payload.derived must not be '/': derived images keep their base's root; e.g. /usr/local/bin/")
    wheels = _wheels(src, doc["wheels"]) if "wheels" in doc else None
    return Payload(tuple(files), checks, primary or "/", derived or "/", wheels, _lines(src, files))


def _lines(src: Source, files: list[str]) -> PayloadLines:
    where = ("payload", "wheels")
    platforms = tuple((parse_platform(str(key[3])), line) for key, line in src.lines.items()
                      if len(key) == 4 and key[:3] == where + ("platforms",) and TEXT.fullmatch(str(key[3])))
    return PayloadLines(src.name, src.line(where + ("package",)), platforms,
                        tuple((name, src.line(("payload", "files", name))) for name in files))


def _files(src: Source, value: object) -> tuple[list[str], dict[str, str]]:
    """`name: regex` (what `name --version` prints; {version} is the release) or `name: null` (not run)."""
    where = ("payload", "files")
    if value is MISSING:
        return [], {}
    if not isinstance(value, dict) or not value:
        src.error(where, f"{describe(where)} must map each file name to what its --version prints (or null)")
        return [], {}
    files, checks = [], {}
    for name, pattern in value.items():
        files.append(string(src, where + (name,), name, FILE, "a file name: letters, digits, '.', '_' or '-'"))
        if pattern is None:
            continue
        checks[name] = string(src, where + (name,), pattern)
        try:
            re.compile(checks[name].replace("{version}", "0"))
        except re.error as e:
            src.error(where + (name,), f"{describe(where + (name,))} is not a valid regular expression: {e}")
    return files, checks


def _wheels(src: Source, value: object) -> Wheels:
    where = ("payload", "wheels")
    doc = mapping(src, where, value, required={"package", "platforms"}, optional={"python"})
    package = string(src, where + ("package",), doc.get("package", MISSING), PACKAGE, "a PyPI project name, e.g. black")
    platforms = doc.get("platforms", MISSING)
    tags = {}
    if platforms is not MISSING and (not isinstance(platforms, dict) or not platforms):
        src.error(where + ("platforms",), f"{describe(where + ('platforms',))} must map each platform to a wheel platform tag, e.g. linux/amd64: musllinux_1_1_x86_64")
    elif platforms is not MISSING:
        for platform, tag in platforms.items():
            here = where + ("platforms", platform)
            key = string(src, here, platform, TEXT, PLATFORM_HINT)
            tags[parse_platform(key) if key else platform] = string(src, here, tag, WHEEL_TAG, "a wheel platform tag, e.g. musllinux_1_2_aarch64")
    python = string(src, where + ("python",), doc["python"], PYTHON, 'a Python version, e.g. "3.12"') if "python" in doc else None
    return Wheels(package, tags, python or None)


def read_platforms(src: Source, where: Where, value: object) -> tuple[Platform, ...]:
    """A list of platforms, each parsed once; one written twice (`linux/arm64/v8` is `linux/arm64`) is refused."""
    platforms: list[Platform] = []
    for i, text in enumerate(string_list(src, where, value, TEXT, PLATFORM_HINT)):
        platform = parse_platform(text) if text else None
        if platform in platforms:
            src.error(where + (i,), f"{describe(where + (i,))} '{text}' is listed twice (as {platform}); keep one")
        elif platform:
            platforms.append(platform)
    return tuple(platforms)
