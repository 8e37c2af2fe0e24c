"""Options: what the command line says, as explicit values, turned into the Plan and the publish's settings.

The model is cibuildwheel's `CommandLineArguments` → `compute_options`: the CLI, the tests and
bench/ all call `compute_options`, and nothing below the CLI sees argparse.
"""

from __future__ import annotations

import difflib
import functools
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from publisher.errors import PublisherError
from publisher.image import reference
from publisher.image.platform import Platform, parse_platform
from publisher.image.reference import Mirror
from publisher.local.git import provenance, variant_provenances
from publisher.release import gate
from publisher.release.decisions import Rules
from publisher.release.plan import Plan, make_plan, select
from publisher.release.tags import dev_release
from publisher.release.selection import Selection, hint, unmatched, words
from publisher.release.version import parse_release
from publisher.remote import credentials
from publisher.remote.policy import Policy
from publisher import render
from publisher.matrix.schema import load_matrix


@dataclass(frozen=True)
class Arguments:
    """Every flag of `publisher publish`, as plain values; the defaults are the command line's."""

    matrix: str = "matrix.yaml"
    version: str | None = None
    only: tuple[str, ...] = ()  # shell-style patterns of variant names; each value may hold several
    skip: tuple[str, ...] = ()  # patterns of variant names left out
    platforms: tuple[str, ...] = ()
    repositories: tuple[str, ...] = ()  # instead of the matrix's
    created: str | None = None
    revision: str | None = None
    artifacts: str | None = None
    base_mirror: str | None = None
    cache: str | None = None
    push: bool = True
    build_cache: bool = True
    force: bool = False
    allow_downgrade: bool = False
    retries: int = 6
    retry_time: float = 300.0
    retry_delay: float = 0.5
    timeout: float = 60.0
    jobs: int | None = None
    result: str | None = None  # write what was published here, as JSON
    stage: str | None = None  # make, smoke-test and push by digest these platforms; record it in this folder
    join: tuple[str, ...] = ()  # stage folders to join into indexes and tags; builds nothing
    builder: str | None = None  # a buildx builder for the builds (e.g. native nodes per platform)
    dev: bool = False  # the dev channel: this revision, sha-<commit> tags, the matrix's dev_repositories
    refresh: bool = False  # remake only the variants whose base moved since --version was published
    sign_key: str | None = None  # PEM file of the EC P-256 key that signs every index and image
    attestations: bool = True  # False (--no-attestations): no SBOM, no provenance, indexes of platform manifests only
    keep_images: bool = False  # keep publisher's own images in the engine after the publish


@dataclass(frozen=True)
class Options:
    """How the publish runs, once the Plan says what it publishes."""

    root: Path  # the matrix's folder: Dockerfiles are read from here
    cache: Path  # wheels, binaries, compressed layers
    artifacts: Path | None = None  # --artifacts DIR instead of the wheels
    base_mirror: Mirror | None = None  # where every base is read, parsed once (compute_planned)
    push: bool = True  # False: stop once every image is built and smoke-tested
    build_cache: bool = True  # False: BuildKit builds everything again
    rules: Rules = field(default_factory=Rules)
    policy: Policy = field(default_factory=Policy)
    timeout: float = 60.0
    jobs: int = field(default_factory=lambda: os.cpu_count() or 2)  # builds, smoke tests, exports at once
    result: Path | None = None  # --result FILE: per repository and tag, the index digest published
    stage: Path | None = None  # --stage DIR: this runner's platforms, pushed by digest, recorded in DIR
    join: tuple[Path, ...] = ()  # --join DIR...: the stages' records, joined into indexes and tags
    builder: str | None = None
    refresh: bool = False  # --refresh: the stale variants' floating tags, on their bases as they are now
    matrix_file: str = "matrix.yaml"  # its name in `root`, as the provenance records it
    sign_key: object = field(default=None, repr=False)  # the loaded private key; never shown
    attestations: bool = True  # an SBOM and a provenance per image, in its variant's index
    keep_images: bool = False  # --keep-images: publisher-build:* stay in the engine (steps/make.engine_for)


@dataclass(frozen=True)
class Job:
    plan: Plan
    options: Options


def compute_options(args: Arguments) -> Job:
    """The Plan and the Options; every input checked before anything runs."""
    planned = compute_planned(args)
    plan = planned.plan
    root = Path(args.matrix).resolve().parent
    differing = render.uncommitted(root, plan)  # before any registry is read or anything is built
    if differing:
        raise PublisherError(*differing)
    key = _signing_key(args.sign_key) if args.sign_key else None  # a bad key: refused before any build
    return Job(plan, Options(
        root=root,
        cache=Path(args.cache) if args.cache else default_cache(),
        artifacts=Path(args.artifacts) if args.artifacts else None,
        base_mirror=planned.base_mirror,
        push=args.push,
        build_cache=args.build_cache,
        rules=Rules(args.force, args.allow_downgrade),
        policy=Policy(attempts=max(1, args.retries), total=args.retry_time, delay=args.retry_delay),
        timeout=args.timeout,
        result=Path(args.result) if args.result else None,
        stage=Path(args.stage) if args.stage else None,
        join=tuple(Path(folder) for folder in args.join),
        builder=args.builder,
        refresh=args.refresh,
        matrix_file=Path(args.matrix).name,
        sign_key=key,
        attestations=args.attestations,
        keep_images=args.keep_images,
        **({"jobs": max(1, args.jobs)} if args.jobs else {}),
    ))


@dataclass(frozen=True)
class Planned:
    """The Plan, and the mirror its bases are read through (--base-mirror, parsed with the flags checked with it)."""

    plan: Plan
    base_mirror: Mirror | None


def compute_plan(args: Arguments) -> Plan:
    """Matrix + version + selections → the Plan."""
    return compute_planned(args).plan


def compute_planned(args: Arguments) -> Planned:
    """The Plan and the base mirror: `compute_plan`'s, and the mirror publish and verify read the bases through."""
    _check_flags(args)
    release = parse_release(args.version) if args.version else None
    matrix = load_matrix(Path(args.matrix), args.matrix)
    names = [v.name for v in matrix.variants]
    selection = Selection(words(args.only), words(args.skip))
    platforms = _check_given(args, matrix, selection)
    mirror = _mirror_given(args.base_mirror)
    if args.dev:
        plan = _dev_plan(matrix, release, provenance(matrix.root, args.created, args.revision))
    else:
        made = variant_provenances(matrix, Path(args.matrix).name, args.created, args.revision,
                                   Path(args.cache) if args.cache else default_cache())
        plan = make_plan(matrix, release, made, render.render_all(matrix))
    if args.repositories:  # every variant goes to the repositories given, whatever its own repositories: say
        plan = _every_variant_to(plan, tuple(dict.fromkeys(args.repositories)))
    has = functools.cache(lambda host: credentials.lookup(host) is not None)  # a docker config read per host, not per variant
    plan = gate.without_credentials(plan, has, credentials.env_name)
    plan = select(plan, selection, platforms, staged=bool(args.stage))
    if selection and not plan.variants:
        raise PublisherError(f"publisher: {selection.flags()} leave no variant to publish; {hint('', names)}")
    if args.stage and plan.variants and not any(v.variant.platforms for v in plan.variants):  # kept, none made
        raise PublisherError(f"publisher: no selected variant is published for {', '.join(map(str, platforms))}; "
                             "stage a platform they have, or select other variants")
    return Planned(plan, mirror)


def _check_flags(args: Arguments) -> None:
    """Flags that cannot go together, or that need another: refused before the matrix is read."""
    if args.stage and args.join:
        raise PublisherError("publisher: --stage and --join are two jobs: stage on each runner, then join once")
    if args.join and not args.push:
        raise PublisherError("publisher: --join writes indexes and tags, it cannot run with --no-push; stage with --no-push instead")
    if args.refresh:
        _check_refresh(args)
    if not args.version and not args.dev:
        raise PublisherError("publisher publish: --version is required: the release to publish, e.g. --version 0.5.31")
    if args.dev and not args.version and not args.artifacts:
        raise PublisherError("publisher publish --dev: no payload: pass --artifacts DIR (this revision's build), "
                             "or --version V to take V's wheels")


def _check_given(args: Arguments, matrix, selection: Selection) -> list[Platform]:
    """--only/--skip, --platform and --repository, checked against the matrix; the platforms chosen."""
    refusals = unmatched(selection, [v.name for v in matrix.variants])
    if refusals:
        raise PublisherError(*refusals)
    known = sorted({p for v in matrix.variants for p in v.platforms})
    platforms = [_known_platform(value, known) for value in words(args.platforms)]
    for ref in args.repositories:
        try:
            reference.parse_repository(ref)
        except ValueError as e:
            raise PublisherError(f"publisher: --repository '{ref}': {e}; write host/path, e.g. ghcr.io/org/image") from None
    return platforms


def _check_refresh(args: Arguments) -> None:
    """--refresh remakes a published release's variants on one machine and moves their floating tags."""
    clash = next((flag for flag, given in (("--dev", args.dev), ("--stage", args.stage), ("--join", args.join),
                                           ("--no-push", not args.push), ("--force", args.force)) if given), None)
    if clash:
        raise PublisherError(f"publisher publish --refresh: not with {clash}: a refresh reads the published release, "
                             "remakes the variants whose base moved and moves their floating tags")
    if not args.version:
        raise PublisherError("publisher publish --refresh: --version is required: the published release to refresh, e.g. --version 0.5.31")


def _dev_plan(matrix, release, made) -> Plan:
    """The dev channel: tags sha-<commit>[-T] in the dev repositories; labels' version V, else the revision."""
    if not matrix.dev_repositories:
        raise PublisherError(f"{matrix.name}:1: --dev publishes to the matrix's dev_repositories:, and it has none; "
                             "add e.g. dev_repositories: [ghcr.io/org/image-dev]")
    if not made.revision:
        raise PublisherError("publisher publish --dev: the revision is unknown; pass --revision or run in a git checkout")
    version = release.text if release else None
    plan = make_plan(matrix, dev_release(made.revision), {v.name: made for v in matrix.variants}, render.render_all(matrix),
                     version or made.revision)
    return replace(_every_variant_to(plan, matrix.dev_repositories), checked=version or "")


def _every_variant_to(plan: Plan, repositories: tuple[str, ...]) -> Plan:
    """The plan publishing every variant to `repositories`, whatever its own `repositories:` say."""
    return replace(plan, repositories=repositories,
                   variants=tuple(replace(v, variant=replace(v.variant, repositories=())) for v in plan.variants))


def default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "publisher"


def _mirror_given(text: str | None) -> Mirror | None:
    """--base-mirror (or $PUBLISHER_BASE_MIRROR) as the value it is; refused with the form it must have."""
    try:
        return reference.parse_mirror(text) if text else None
    except ValueError as e:
        raise PublisherError(f"publisher: --base-mirror {e}") from None


def _known_platform(value: str, known: list[Platform]) -> Platform:
    """A --platform value, parsed: one of the matrix's platforms (`known`), else refused with the nearest."""
    try:
        platform = parse_platform(value)
    except ValueError:
        platform = None
    if platform in known:
        return platform
    texts = [str(p) for p in known]
    near = difflib.get_close_matches(value, texts, n=1)
    hint = f"did you mean '{near[0]}'?" if near else f"known: {', '.join(texts)}"
    raise PublisherError(f"publisher: --platform '{value}' is not in the matrix; {hint}")


def _signing_key(path: str):
    from publisher.local.keys import load_signing_key  # cryptography, only when signing

    return load_signing_key(path)
