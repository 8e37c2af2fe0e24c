"""Counts in plain words: the number and its noun agree ("1 repository", "2 repositories")."""

from __future__ import annotations


def plural(n: int, singular: str, many: str | None = None) -> str:
    """`plural(1, "tag")` → "1 tag", `plural(2, "repository")` → "2 repositories"."""
    return f"{n} {singular if n == 1 else many or _plural_of(singular)}"


def counted(n: int, phrase: str) -> str:
    """A count kept under its plural phrase ("blobs uploaded", "smoke tests run"): the phrase's
    first plural word made singular for 1 ("1 blob uploaded", "1 smoke test run")."""
    if n != 1:
        return f"{n} {phrase}"
    words = phrase.split(" ")
    at = next((i for i, w in enumerate(words) if w.endswith("s")), None)
    if at is not None:
        words[at] = _singular_of(words[at])
    return f"1 {' '.join(words)}"


def _plural_of(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")


def _singular_of(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-2] if word.endswith(("sses", "xes", "ches", "shes")) else word[:-1]
