"""Which variants a publish is about: shell-style `--only` and `--skip` patterns, as cibuildwheel's build and skip."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(frozen=True)
class Selection:
    """Variant names kept: those matching some `only` pattern (every one when none is given), minus `skip`."""

    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    of: int = 0  # variants in the matrix, for "selected 7 of 22"

    def __bool__(self) -> bool:
        return bool(self.only or self.skip)

    def keeps(self, name: str) -> bool:
        wanted = not self.only or any(fnmatchcase(name, p) for p in self.only)
        return wanted and not any(fnmatchcase(name, p) for p in self.skip)

    def flags(self) -> str:
        return " ".join([f"--only '{p}'" for p in self.only] + [f"--skip '{p}'" for p in self.skip])

    def describe(self, selected: int) -> str:
        return f"selected {selected} of {self.of} variants ({self.flags()})"


def unmatched(selection: Selection, names: list[str]) -> list[str]:
    """One line per pattern that matches no variant name, naming those it may have meant."""
    lines = []
    for flag, patterns in (("--only", selection.only), ("--skip", selection.skip)):
        for pattern in patterns:
            if not any(fnmatchcase(name, pattern) for name in names):
                lines.append(f"publisher: {flag} '{pattern}' matches no variant of the matrix; {hint(pattern, names)}")
    return lines


def hint(pattern: str, names: list[str]) -> str:
    near = difflib.get_close_matches(pattern, names, n=3, cutoff=0.6)
    if near:
        return "did you mean " + " or ".join(f"'{n}'" for n in near) + "?"
    return f"variants: {', '.join(names)}"


def words(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Flag values split on spaces and commas, as a CI input carries a list: 'alpine* *-slim' → two patterns."""
    return tuple(w for value in values for w in value.replace(",", " ").split())
