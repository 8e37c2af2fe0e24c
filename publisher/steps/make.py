"""Make every image of the plan: build what BuildKit must build, assemble the rest from their bases."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from publisher.local.engine import Engine
from publisher.steps.assemble import Assembled, assemble_all
from publisher.registries.bases import Bases
from publisher.release.resolved import Resolved
from publisher.steps.build import build_all
from publisher.steps.run import Run


@dataclass(frozen=True)
class Made:
    engine: Engine
    built: dict[tuple[str, str], str]  # (variant, platform) → image ID, to export before pushing
    assembled: dict[tuple[str, str], Assembled]  # ready to push as they are

    def in_engine(self) -> dict[tuple[str, str], str]:
        """(variant, platform) → what the engine runs: every image made."""
        return {**self.built, **{key: a.name for key, a in self.assembled.items()}}


def make_all(run: Run, resolved: Resolved, binaries: dict[str, Path], bases: Bases) -> Made:
    engine = Engine(run.progress.log, run.options.builder)
    run.progress.log(f"builder: {engine.builder.name}")
    recipes = {v.variant.name: v.recipe for v in resolved.plan.variants}  # each Dockerfile read once
    derived = [(v, p, recipes[v.variant.name]) for v in resolved.plan.variants if not v.variant.primary
               for p in resolved.platforms_of(v)]
    to_build = [(v, p) for v, p, r in derived if not r]
    with run.progress.phase("build", len(to_build) + len(binaries)) as tick:
        built = build_all(run, resolved.platforms, engine, binaries, to_build, tick)
    assembled = {}
    to_assemble = [(v, p, r) for v, p, r in derived if r]
    if to_assemble:
        with run.progress.phase("assemble", len(to_assemble)) as tick:
            assembled = assemble_all(run, engine, bases, binaries, to_assemble, tick)
    run.counts["images built"], run.counts["images assembled"] = len(built), len(assembled)
    return Made(engine, built, assembled)
