"""Run every image made and check its config: nothing leaves this machine unless all of it passes."""

from __future__ import annotations

import shlex
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from publisher.image.platform import Platform
from publisher.errors import PublishFailed
from publisher.local.containers import Exited, PerTest, Shared
from publisher.local.engine import Engine
from publisher.matrix.schema import SmokeTest
from publisher.release.events import SmokeTested
from publisher.release import verdicts
from publisher.release.plan import Plan, VariantPlan
from publisher.steps.run import Run


@dataclass(frozen=True)
class Verdict:
    failures: list[str]
    tests: int  # how many smoke tests ran
    alone: str | None = None  # why they ran in a container each, not in one they shared


class Smoking:
    """Each image's smoke tests, started as soon as the image is in the engine: they run while the
    others are made, on what the engine's loads leave of the cores. Nothing is pushed before `finish`."""

    def __init__(self, run: Run, plan: Plan):
        self.run, self.version = run, plan.payload_version
        self.variants = {v.variant.name: v for v in (plan.primary, *plan.variants)}
        # A container's run mostly waits on the engine (create, start, wait, remove): more at once than cores.
        self.pool = ThreadPoolExecutor(max(4, 2 * run.options.jobs))
        self.started: dict[tuple[str, Platform], Future] = {}

    def __enter__(self) -> Smoking:
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def ready(self, engine: Engine, key: tuple[str, Platform], image: str) -> None:
        """(variant, platform) is in the engine as `image`: test it."""
        v, platform = self.variants[key[0]], key[1]
        self.started[key] = self.pool.submit(_smoke_one, engine, v, platform, image, self.version)

    def finish(self, engine: Engine, images: dict[tuple[str, Platform], str], tick) -> list[SmokeTested]:
        """Every image of `images` tested (those not started yet now); fails if any test did."""
        early = sum(f.done() for f in self.started.values())
        for key, image in images.items():
            if key not in self.started:
                self.ready(engine, key, image)
        found = []
        for key in images:
            found.append(self.started[key].result())
            tick(f"{key[0]} {key[1]}")
        if early:
            self.run.progress.log(f"smoke-test: {early} of {len(images)} images tested while the others were made")
        alone = Counter(v.alone for v in found if v.alone)
        if alone:
            why = "; ".join(f"{why} ({n})" for why, n in sorted(alone.items()))
            self.run.progress.log(f"smoke-test: {sum(alone.values())} of {len(images)} images ran a container per test: {why}")
        failures = [line for v in found for line in v.failures]
        if failures:
            raise PublishFailed("publisher: smoke tests failed; nothing was pushed:", *failures)
        return [SmokeTested(*key, v.tests) for key, v in zip(images, found)]


def _smoke_one(engine: Engine, v: VariantPlan, platform: Platform, image: str, version: str) -> Verdict:
    """One image's config check and smoke tests."""
    failures = verdicts.check_config(v.variant, platform, engine.inspect(image), v.labels)
    containers = engine.containers(image, len(v.variant.smoke))
    try:
        for test in v.variant.smoke:
            why = judged(containers, test, version)
            if why:
                failures.append(f"{v.variant.name} {platform}: {shlex.join(test.run)}: {why}")
    finally:
        containers.close()
    return Verdict(failures, len(v.variant.smoke), containers.why)


def judged(containers: Shared | PerTest, test: SmokeTest, version: str) -> str | None:
    """One smoke test's verdict (a run whose output the engine lost is run once more by local/containers,
    which is given the verdict to know a failed run by)."""
    ran = containers.run(list(test.run), passes=lambda result: _verdict(test, version, result) is None)
    return _verdict(test, version, ran)


def _verdict(test: SmokeTest, version: str, result: Exited) -> str | None:
    return verdicts.judge(test, version, result.exit_code, result.stdout, result.stderr, result.not_started)
