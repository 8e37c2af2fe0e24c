"""What a publish did, as typed events. Pure.

Each step returns the events of what it did (go-containerregistry's `remote.WithProgress` sends typed
`v1.Update`s the same way); the flow hands them on in its `Outcome`, and one consumer counts them for
the summary line (`report.tally`). No step keeps a count, and no event is known by its wording.

A notice (a tag held or retired, floating tags a newer release took) is said as it happens: a step
hands it to `Progress.notice`, the one consumer of lines, which says it as `str(notice)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from publisher.image.platform import Platform
from publisher.release.converge import line


class Sent(Enum):
    """What became of one piece of content given to a repository by digest."""

    PUSHED = "pushed"  # sent: a blob uploaded, a manifest or a signature put
    MOUNTED = "mounted"  # a blob mounted from another repository of the same registry: no byte sent
    THERE = "there"  # the repository held it already: nothing sent


@dataclass(frozen=True)
class BlobSent:
    repository: str
    digest: str
    sent: Sent


@dataclass(frozen=True)
class ManifestSent:
    """An image's, an attestation's or an index's manifest, by digest."""

    repository: str
    digest: str
    sent: Sent  # PUSHED or THERE


@dataclass(frozen=True)
class SignatureSent:
    repository: str
    digest: str  # what it signs
    sent: Sent  # PUSHED or THERE


@dataclass(frozen=True)
class BundleSent:
    """A Sigstore bundle, attached as a referrer of the manifest it signs (steps/sign)."""

    repository: str
    subject: str  # the digest of the manifest it is about
    sent: Sent  # PUSHED (pushed or listed anew) or THERE (listed already)


class Tagged(Enum):
    """What one planned tag's write did, or why there was none."""

    CREATED = "created"
    MOVED = "moved"
    HELD_BACK = "held back"  # a newer release holds it: not written
    UNCHANGED = "unchanged"  # it held this release already
    WRITTEN_AGAIN = "written again"  # settling: another publisher's write undone
    PUT_BACK = "put back"  # settling: a newer release's index restored over ours


@dataclass(frozen=True)
class TagWritten:
    repository: str
    tag: str
    tagged: Tagged


@dataclass(frozen=True)
class TagVerified:
    """Read back (or read, when nothing was to be done): it holds what this release says."""

    repository: str
    tag: str


@dataclass(frozen=True)
class ImageMade:
    variant: str
    platform: Platform
    assembled: bool  # False: built by BuildKit


@dataclass(frozen=True)
class SmokeTested:
    variant: str
    platform: Platform
    tests: int  # how many of its smoke tests ran


@dataclass(frozen=True)
class CallsRecovered:
    """Registry calls that failed for a passing reason and succeeded on a retry, over the whole publish."""

    calls: int


Event = BlobSent | ManifestSent | SignatureSent | BundleSent | TagWritten | TagVerified | ImageMade | SmokeTested | CallsRecovered


@dataclass(frozen=True)
class TagHeld:
    """A notice: a tag decided held (a newer release holds it), said before anything is pushed."""

    repository: str
    tag: str
    why: str

    def __str__(self) -> str:
        return f"{self.repository}:{self.tag}: held: {self.why}"


@dataclass(frozen=True)
class TagRetired:
    """A notice: a tag the plan no longer updates, left at its last release."""

    repository: str
    tag: str
    why: str  # "retired: last V"

    def __str__(self) -> str:
        return f"{self.repository}:{self.tag}: {self.why}"


@dataclass(frozen=True)
class TakenMeanwhile:
    """A notice: our floating tags in one repository that a newer release took while this publish ran."""

    version: str  # the newer release
    repository: str
    tags: tuple[str, ...]

    def __str__(self) -> str:
        return line(self.version, self.repository, list(self.tags))


Notice = TagHeld | TagRetired | TakenMeanwhile
