"""A platform (os, architecture, variant) as a value: parsed once where it enters, normalised here only.

It enters from the matrix, the command line (`--platform`), a base's index or an image's config, and
a stage record. `arm64` and `arm64/v8` are one platform (containerd's and BuildKit's rule): the
variant is dropped. Its text is `os/arch[/variant]`, as users write and read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

TEXT = re.compile(r"[a-z0-9]+/[a-z0-9_]+(?:/v[0-9]+)?")  # what the matrix and --platform accept
IMPLIED = {("arm64", "v8"), ("arm64", "8")}  # (architecture, variant) pairs that say no more than the architecture
# A Linux platform's architecture[/variant] → its machine name, as `uname -m`, `docker info` and wheel tags say it.
MACHINES = {"amd64": "x86_64", "arm64": "aarch64", "arm/v7": "armv7l", "arm/v6": "armv6l", "386": "i686",
            "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


@total_ordering
@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    def __post_init__(self) -> None:
        if (self.architecture, self.variant) in IMPLIED or not self.variant:
            object.__setattr__(self, "variant", None)

    def __str__(self) -> str:
        return self.text()

    def __lt__(self, other: Platform) -> bool:
        return str(self) < str(other)  # sorted as their text always was

    def text(self, sep: str = "/", os: bool = True) -> str:
        """`linux/arm/v7`; with `sep` "-", `linux-arm-v7` (folder and file names); without `os`, `arm/v7`."""
        return sep.join(filter(None, (self.os if os else None, self.architecture, self.variant)))

    def satisfies(self, spec: Platform) -> bool:
        """This platform (an image's) serves `spec` (one asked for): the same os and architecture, and the
        variant `spec` names, if it names one."""
        return (self.os, self.architecture) == (spec.os, spec.architecture) and spec.variant in (None, self.variant)

    @property
    def machine(self) -> str | None:
        """Its machine name (`x86_64`, `aarch64`, `armv7l`...), for a Linux platform that has one."""
        return MACHINES.get(self.text(os=False)) if self.os == "linux" else None

    @property
    def unknown(self) -> bool:
        """`unknown/unknown`: an index entry of an attestation manifest, not an image."""
        return self.os == "unknown"


def parse_platform(text: str) -> Platform:
    """`linux/amd64`, `linux/arm/v7`; raise ValueError naming the form expected."""
    if not TEXT.fullmatch(text):
        raise ValueError(f"platform '{text}' is not os/arch[/variant], e.g. linux/arm64")
    return Platform(*text.split("/"))


def platform_of(fields: dict) -> Platform:
    """The platform an index entry's `platform` or an image config says (`os`, `architecture`, `variant`)."""
    return Platform(fields.get("os") or "", fields.get("architecture") or "", fields.get("variant") or None)


def machine_platform(machine: str) -> Platform | None:
    """The Linux platform of a machine name (`uname -m`, `docker info`'s Architecture), or of an architecture
    as Go names it (`amd64`); None for one publisher does not know."""
    arch = next((a for a, m in MACHINES.items() if m == machine), machine if machine in MACHINES else None)
    return parse_platform(f"linux/{arch}") if arch else None
