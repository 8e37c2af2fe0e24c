"""Make every image of the plan: assemble what a recipe describes, build the rest with BuildKit.

Whatever makes the primary goes first: a derived image BuildKit builds copies from the primary in the engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from publisher.image.platform import Platform
from publisher.errors import PublisherError
from publisher.local.engine import Engine
from publisher.local.names import OwnName
from publisher.release.events import ImageMade
from publisher.release.plan import Plan, VariantPlan
from publisher.steps.assemble import Assembled, assemble_all
from publisher.holdings.bases import Bases
from publisher.release.resolved import Resolved
from publisher.steps.build import build_all
from publisher.steps.run import Run


@dataclass(frozen=True)
class Made:
    engine: Engine
    built: dict[tuple[str, Platform], str]  # (variant, platform) → image ID, to export before pushing
    assembled: dict[tuple[str, Platform], Assembled]  # ready to push as they are
    builder: str  # the builder used, or why none was

    @property
    def made_with(self) -> str:
        """The engine, its image store and the builder, for the log and the step summary."""
        return f"{self.engine.description}; builder: {self.builder}"

    def in_engine(self) -> dict[tuple[str, Platform], str]:
        """(variant, platform) → what the engine runs: every image made."""
        return {**self.built, **{key: str(a.name) for key, a in self.assembled.items()}}

    @property
    def events(self) -> list[ImageMade]:
        return ([ImageMade(*key, assembled=False) for key in self.built]
                + [ImageMade(*key, assembled=True) for key in self.assembled])


@dataclass(frozen=True)
class Work:
    """What make_all makes, as (variant, platform) pairs."""

    primary: list[tuple[VariantPlan, Platform]]  # the primary: where it is published, and where a build copies from it
    to_build: list[tuple[VariantPlan, Platform]]  # derived images without a recipe
    to_assemble: list[tuple[VariantPlan, Platform]]  # derived images with one


@contextmanager
def engine_for(run: Run) -> Iterator[Engine]:
    """The engine images are made in, left as a pull would leave it when the flow is done with it (done,
    failed or interrupted): publisher's own names removed, the bases it pulled kept; --keep-images keeps them."""
    engine = Engine(run.progress.log, run.options.builder)
    try:
        yield engine
    finally:
        if not run.options.keep_images:
            engine.remove_own()


def make_all(run: Run, resolved: Resolved, binaries: dict[Platform, Path], bases: Bases, engine: Engine,
             ready=None) -> Made:
    """`ready(engine, (variant, platform), name)`: told as each assembled image is in the engine."""
    told = (lambda key, name: ready(engine, key, name)) if ready else (lambda key, name: None)
    work = _work(resolved)
    builds = bool(work.to_build or (work.primary and not resolved.plan.primary.recipe))
    builder = _builder(engine, work) if builds else "none, every image is assembled"
    run.progress.log(f"engine: {engine.description}; builder: {builder}")
    if resolved.plan.primary.recipe:
        assembled = _assemble_phase(run, resolved.plan, engine, bases, binaries, work.primary + work.to_assemble, told)
        built = _build_phase(run, resolved.plan, engine, bases, binaries, [], work.to_build, _primary_names(assembled, work))
    else:
        built = _build_phase(run, resolved.plan, engine, bases, binaries, [p for _, p in work.primary], work.to_build, {})
        assembled = _assemble_phase(run, resolved.plan, engine, bases, binaries, work.to_assemble, told)
    return Made(engine, built, assembled, builder)


def _builder(engine: Engine, work: Work) -> str:
    """The builder's name, once it is known to do what the builds ask."""
    builder = engine.builder
    if work.to_build and not builder.reads_engine:
        v = work.to_build[0][0]
        raise PublisherError(f"{v.dockerfile}: {builder.name} cannot build FROM the primary image in the engine, which "
                             "this Dockerfile copies from; use a builder with the docker driver (leave --builder out)")
    return builder.name


def _work(resolved: Resolved) -> Work:
    plan = resolved.plan
    pairs = [(v, p) for v in plan.variants if not v.variant.primary for p in resolved.platforms_of(v)]
    to_build = [(v, p) for v, p in pairs if not v.recipe]
    published = next((resolved.platforms_of(v) for v in plan.variants if v.variant.primary), ())
    needed = sorted({*published, *(p for _, p in to_build)})
    return Work([(plan.primary, p) for p in needed], to_build, [(v, p) for v, p in pairs if v.recipe])


def _primary_names(assembled: dict[tuple[str, Platform], Assembled], work: Work) -> dict[Platform, OwnName]:
    """Platform → the primary's name in the engine, for the builds that copy from it."""
    return {p: assembled[v.variant.name, p].name for v, p in work.primary}


def _assemble_phase(run: Run, plan: Plan, engine: Engine, bases: Bases, binaries: dict[Platform, Path],
                    wanted: list[tuple[VariantPlan, Platform]], told) -> dict[tuple[str, Platform], Assembled]:
    if not wanted:
        return {}
    with run.progress.phase("assemble", len(wanted)) as tick:
        return assemble_all(run, engine, bases, binaries, plan.payload.files, [(v, p, v.recipe) for v, p in wanted],
                            tick, told)


def _build_phase(run: Run, plan: Plan, engine: Engine, bases: Bases, binaries: dict[Platform, Path],
                 primary: list[Platform], derived: list[tuple[VariantPlan, Platform]],
                 names: dict[Platform, OwnName]) -> dict[tuple[str, Platform], str]:
    if not primary and not derived:
        return {}
    with run.progress.phase("build", len(primary) + len(derived)) as tick:
        return build_all(run, plan, engine, bases, binaries, primary, derived, names, tick)
