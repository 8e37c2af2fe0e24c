"""Benchmark: `publisher publish` against the peers users would pick, on realistic bases, every side cold.

    PYTHONPATH=. .venv/bin/python bench/publish.py [--sample] [--keep] [--sets standard heavy huge]   # as root

Bases: bench/bases.py, one or more sets (real Debian content: `standard` ~0.55 GB compressed per
platform, `heavy` ~0.97 GB; `huge`: one base with a 2 GB layer, amd64, only bookworm-slim published),
each served from a loopback mirror of its own. Engines: bench/engines.py (the bench's own dockerd, classic and containerd stores; the main
engine is never touched). Peers: bench/peers.py (`docker buildx bake` on the containerd store, the
hand-written loop on the classic store). In one run, alternated, twice: publisher vs bake on the
containerd store, publisher vs the loop on the classic store; each side cold (engine data root
wiped, an empty registry, an empty publisher cache). Then per store, on the last publisher run: a
rerun (same cache, registry and engine) and the next release (0.6.0: the cache as it was after the cold
run, restored as a CI cache would be, the engine cold, the registry holding 0.5.31). Then the offline
dry-run. Every side's peak RSS: its client command's (publisher; `docker buildx bake`; the loop's
largest docker command) and its engine's (dockerd and containerd), see bench/rss.py. Results: a table
per set, and one JSON line per set appended to .work/bench-results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bases, peers, rss  # noqa: E402
from bench.engines import Engine, engine  # noqa: E402
from bench.storage import minimum, stored  # noqa: E402
from publisher.local.artifacts import fetch_wheels  # noqa: E402
from publisher.matrix.schema import load_matrix  # noqa: E402
from tests.registry_server import RegistryServer  # noqa: E402

PYTHON = sys.executable
MATRIX = ROOT / "matrix.yaml"
FIRST, NEXT = "0.5.31", "0.6.0"
SAMPLE = ["distroless", "alpine3.20", "bookworm-slim", "python3.12-bookworm", "python3.12-bookworm-slim"]
HUGE = (["distroless", "bookworm-slim"], ["linux/amd64"])  # what the huge set publishes: its one base, amd64
REPO = "bench/uv"
WHEELS = ROOT / ".work" / "bench-wheels"
RESULTS = ROOT / ".work" / "bench-results.jsonl"
SIDES = ROOT / ".work" / "bench-sides.jsonl"
PROVENANCE = ["--created", "1732100000", "--revision", "bench"]  # fixed: a rerun must change nothing
PHASE = r"^([a-z-]+): (\d+) in ([\d.]+) s$"
TIMEOUT = 1800


@dataclass
class Bench:
    kind: str  # the set of bases (bench/bases.py SETS)
    work: Path
    only: list[str]
    platforms: list[str]  # [] for every platform of the plan
    variants: list[dict]
    mirror: str
    artifacts: Path
    servers: list = field(default_factory=list)
    publisher: Path = ROOT  # the checkout whose publisher the publisher sides run (--publisher)

    def registry(self, name: str) -> RegistryServer:
        server = RegistryServer(fresh(self.work / name)).start()
        self.servers.append(server)
        return server

    def release(self, registry: RegistryServer, version: str = FIRST) -> peers.Release:
        return peers.Release(self.variants, f"{registry.host}/{REPO}", self.artifacts / version, self.mirror)


def settle() -> None:
    """Nothing of the bench's own writing left for the kernel to flush when a measured run starts: the
    cache copied for the next release (1.5-2 GB), a registry's storage, a deleted data root. Their
    writeback fell into the run that came next: every next release started a second after that copy."""
    os.sync()


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def sh(*argv: str, **kwargs) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if result.returncode:
        raise RuntimeError(f"{' '.join(argv)}: exit {result.returncode}: {result.stderr.strip()[-1500:]}")
    return result.stdout


def only_args(only: list[str], platforms: list[str] = ()) -> list[str]:
    return [a for name in only for a in ("--only", name)] + [a for p in platforms for a in ("--platform", p)]


def plan_variants(only: list[str], platforms: list[str] = ()) -> list[dict]:
    """The release through publisher's JSON contract, the primary first."""
    argv = [PYTHON, "-m", "publisher", "publish", "--dry-run", "--offline", "--output", "json", "--version", FIRST,
            "--matrix", str(MATRIX), *PROVENANCE]
    return json.loads(sh(*argv, *only_args(only, platforms), cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}))["variants"]


def prepare_artifacts(work: Path) -> Path:
    """DIR/<version>/linux-<arch>/{uv,uvx}: the binaries publisher would take from uv's wheels (fetched once)."""
    payload = load_matrix(MATRIX).payload
    for version in (FIRST, NEXT):
        for platform, folder in fetch_wheels(payload, version, list(payload.wheels.platforms), WHEELS).items():
            target = work / "artifacts" / version / platform.text("-")
            target.mkdir(parents=True, exist_ok=True)
            for name in payload.files:
                shutil.copy2(folder / name, target / name)
    return work / "artifacts"


def run_publisher(bench: Bench, eng: Engine, registry: RegistryServer, cache: Path, version: str, log: Path) -> dict:
    """One `publisher publish` (its defaults: smoke tests, SBOM, provenance, read-back) on the bench engine,
    of the checkout `bench.publisher` (`-P`: not the working directory's, which is this one)."""
    result_file = log.with_suffix(".result.json")
    argv = [PYTHON, "-P", "-m", "publisher", "publish", "--version", version, "--matrix", str(MATRIX),
            "--repository", f"{registry.host}/{REPO}", "--base-mirror", bench.mirror, "--cache", str(cache),
            "--artifacts", str(bench.artifacts / version), "--result", str(result_file), *PROVENANCE,
            *only_args(bench.only, bench.platforms)]
    env = {**eng.env(), "PYTHONPATH": str(bench.publisher)}
    start, lines = time.perf_counter(), []
    argv, record = rss.measured(argv)
    with subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        for line in process.stdout:  # each line with the second it arrived: where the time went
            lines.append(f"{time.perf_counter() - start:7.1f} {line.rstrip()}")
    wall = time.perf_counter() - start
    peak = rss.peak(record)
    log.write_text("\n".join(lines) + "\n")
    if process.returncode:
        raise RuntimeError(f"publisher {version} failed (exit {process.returncode}):\n" + "\n".join(lines[-30:]))
    return {"wall_s": round(wall, 2), "phases": phases(lines, wall), "summary": lines[-1][8:] if lines else "",
            "client_peak_mb": peak}


def phases(lines: list[str], wall: float) -> dict[str, float]:
    """Each `NAME: N in S s` line of publisher's log; `other`: the wall time no phase claims (start, bases read)."""
    import re

    found = {}
    for line in lines:
        if match := re.match(PHASE, line[8:]):
            found[match[1]] = round(found.get(match[1], 0.0) + float(match[3]), 2)
    found["other"] = round(wall - sum(found.values()), 2)
    return found


def side(bench: Bench, name: str, trial: int) -> dict:
    """One cold run of one side: its engine cold, an empty registry, an empty cache."""
    tool, store = name.split("-")
    for other in {"classic", "containerd"} - {store}:
        engine(other).stop()  # idle is not quiet: a store still collecting garbage takes a core
    eng = engine(store).cold()
    registry = bench.registry(f"registry-{name}-{trial}")
    work = fresh(bench.work / f"{name}-{trial}")
    settle()
    print(f"{name} (trial {trial}, {bench.kind} bases) ...", flush=True)
    if tool == "publisher":
        figures = run_publisher(bench, eng, registry, work / "cache", FIRST, work / "publisher.log")
        shutil.copytree(work / "cache", work / "cache-after-cold", symlinks=True)  # the CI cache of the next release
    elif tool == "bake":
        figures = peers.run_bake(bench.release(registry), eng, work)
    else:
        figures = peers.Loop(bench.release(registry), eng, work).run()
    figures["peak_rss_mb"] = {"client": figures.pop("client_peak_mb"), **eng.peaks()}
    figures |= {"stored": stored(registry.root).__dict__, "minimum": minimum(registry.host, REPO, bench.variants, bench.mirror)}
    print(f"  {figures['wall_s']} s, {figures['stored']['bytes'] / 1e6:.0f} MB stored "
          f"(minimum {figures['minimum']['total'] / 1e6:.0f} MB), peak RSS MB {figures['peak_rss_mb']} "
          f"{figures.get('phases', '')}", flush=True)
    run = {"side": name, "trial": trial, "set": bench.kind, "engine": eng.describe(), "variants": len(bench.variants),
           **figures}
    with SIDES.open("a") as out:  # each side as it is measured: a run cut short still leaves its figures
        out.write(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **run}) + "\n")
    return {**run, "_registry": registry, "_work": work}


ORDER = (("publisher-containerd", "bake-containerd", "publisher-classic", "loop-classic"),
         ("bake-containerd", "publisher-containerd", "loop-classic", "publisher-classic"))


def trials(bench: Bench, keep: bool, count: int, sides: list[str]) -> list[dict]:
    """`count` trials, alternating the ORDERs; each side's registry stopped when measured, but the last
    publisher run's of each store (the follow-ups use it)."""
    runs = []
    for trial in range(1, count + 1):
        for name in (n for n in ORDER[(trial - 1) % len(ORDER)] if n in sides):
            runs.append(side(bench, name, trial))
            if not (name.startswith("publisher") and trial == count):
                forget(runs[-1], keep)
    return runs


def forget(run: dict, keep: bool) -> None:
    """A measured side's registry stopped; its storage and work deleted unless --keep (the figures stay)."""
    run["_registry"].stop()
    if not keep:
        shutil.rmtree(run["_registry"].root, ignore_errors=True)
        shutil.rmtree(run["_work"], ignore_errors=True)


def follow_ups(bench: Bench, cold: dict) -> dict:
    """On the last cold publisher run of a store: the rerun (all warm), then the next release (engine cold,
    the cache as the cold run left it, the registry holding the first release)."""
    store, work, registry = cold["side"].split("-")[1], cold["_work"], cold["_registry"]
    for other in {"classic", "containerd"} - {store}:
        engine(other).stop()
    eng = engine(store).start()  # stopped while the other store ran; its data root (images, cache) kept
    print(f"publisher-{store} rerun and next release ...", flush=True)
    settle()
    rerun = run_publisher(bench, eng, registry, work / "cache", FIRST, work / "rerun.log")
    eng.cold()
    settle()
    nxt = run_publisher(bench, eng, registry, work / "cache-after-cold", NEXT, work / "next.log")
    nxt["engine_peak_rss_mb"] = eng.peaks()
    print(f"  rerun {rerun['wall_s']} s, next {nxt['wall_s']} s {nxt['phases']}", flush=True)
    return {"rerun": rerun, "next": nxt}


def dry_run_median(runs: int = 9) -> dict:
    """`publisher publish --dry-run --offline` of the shipped matrix, interpreter start included."""
    argv = [PYTHON, "-m", "publisher", "publish", "--dry-run", "--offline", "--version", FIRST]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3), "runs": runs}


def best(runs: list[dict], name: str) -> dict:
    """The faster of a side's cold trials: the machine's drift meets every side alike."""
    return min((r for r in runs if r["side"] == name), key=lambda r: r["wall_s"])


def summarize(runs: list[dict], follow: dict, dry: dict) -> dict:
    cold = {name: best(runs, name) for name in {r["side"] for r in runs}}
    figures = {"trials": [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs], "dry_run": dry,
               "follow_ups": follow}
    ratios = {}
    for store, peer in (("containerd", "bake"), ("classic", "loop")):
        if f"publisher-{store}" not in cold:
            continue
        pub = cold[f"publisher-{store}"]
        peaks = [r["peak_rss_mb"]["client"] for r in runs if r["side"] == f"publisher-{store}"]
        peaks += [run["client_peak_mb"] for run in follow.get(store, {}).values()]
        ratios[store] = {"stored_vs_minimum": round(pub["stored"]["bytes"] / pub["minimum"]["total"], 3),
                         "publisher_peak_rss_mb": max(peaks)}
        if f"{peer}-{store}" in cold:
            other = cold[f"{peer}-{store}"]
            ratios[store] |= {f"cold_vs_{peer}": round(pub["wall_s"] / other["wall_s"], 3),
                              f"{peer}_stored_vs_minimum": round(other["stored"]["bytes"] / other["minimum"]["total"], 3)}
        if store in follow:
            ratios[store] |= {"next_vs_cold": round(follow[store]["next"]["wall_s"] / pub["wall_s"], 3),
                              "rerun_vs_cold": round(follow[store]["rerun"]["wall_s"] / pub["wall_s"], 3)}
    return {**figures, "ratios": ratios}


# Issue 30's targets (bench figures, not tests).
TARGETS = (("cold_vs_bake", 0.9), ("cold_vs_loop", 0.5), ("stored_vs_minimum", 1.05), ("next_vs_cold", 0.7),
           ("rerun_vs_cold", 0.03), ("publisher_peak_rss_mb", 300))


def report(result: dict) -> None:
    print(f"\n{result['set']} bases {result['bases_mb']}")
    print(f"{'side':<22}{'trial':>6}{'wall s':>9}{'stored MB':>11}{'minimum MB':>12}  {'peak RSS MB':<44}phases (s)")
    for r in result["trials"]:
        peaks = ", ".join(f"{k} {v:.0f}" for k, v in r["peak_rss_mb"].items())
        print(f"{r['side']:<22}{r['trial']:>6}{r['wall_s']:9.1f}{r['stored']['bytes'] / 1e6:11.1f}"
              f"{r['minimum']['total'] / 1e6:12.1f}  {peaks:<44}{_phases(r.get('phases', {}))}")
    for store, runs in result["follow_ups"].items():
        for key, r in runs.items():
            print(f"{'publisher-' + store + ' ' + key:<28}{r['wall_s']:9.1f}{'':23}  client {r['client_peak_mb']:<37.0f}"
                  f"{_phases(r['phases'])}")
    if result["dry_run"]["median_s"] is not None:
        print(f"dry-run (offline, shipped matrix): median {result['dry_run']['median_s']:.3f} s")
    print("\ntargets:")
    for store, ratios in result["ratios"].items():
        for key, value in ratios.items():
            limit = dict(TARGETS).get(key)
            verdict = "" if limit is None else ("PASS" if value <= limit else "FAIL") + f" (<= {limit})"
            print(f"  {store:<11}{key:<28}{value:8.3f}  {verdict}")
    dry = result["dry_run"]["median_s"]
    if dry is None:
        return
    print(f"  {'':<11}{'dry_run_s':<28}{dry:8.3f}  {'PASS' if dry <= 0.3 else 'FAIL'} (<= 0.3)")


def _phases(found: dict) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in found.items())


def one_set(kind: str, args, work: Path, artifacts: Path) -> dict:
    """Every side of one set of bases, cold, alternated; then the follow-ups (not for the huge set: it is
    there for memory)."""
    only, platforms = HUGE if kind == "huge" else (SAMPLE if args.sample else [], [])
    mirror = bases.serve(kind)
    bench = Bench(kind, fresh(work / kind), only, platforms, plan_variants(only, platforms), mirror.host, artifacts, [mirror],
                  args.publisher)
    totals = {a: round(t / 1e6) for a, t in bases.load(kind).totals(bases.catalog(kind)).items()}
    started = time.time()
    try:
        print(f"{kind} bases: {len(bench.variants)} variants, bases at {mirror.host}: {totals} MB", flush=True)
        runs = trials(bench, args.keep, args.trials, args.sides)
        last = {r["side"]: r for r in runs}  # the last trial's: its registry and cache are kept
        skip = args.no_follow_ups or kind == "huge"
        follow = {} if skip else {store: follow_ups(bench, last[f"publisher-{store}"])
                                  for store in ("containerd", "classic") if f"publisher-{store}" in last}
        result = summarize(runs, follow, {"median_s": None} if skip else dry_run_median())
        return result | {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), "set": kind,
                         "publisher": str(args.publisher),
                         "sample": args.sample, "trials_per_side": args.trials, "platforms": platforms or "all",
                         "variants": [v["name"] for v in bench.variants], "cpus": os.cpu_count(), "bases_mb": totals}
    finally:
        for server in bench.servers:
            server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", choices=bases.SETS, default=["standard"],
                        help="which bench bases, one after another (default: standard); the full comparison: standard heavy huge")
    parser.add_argument("--sample", action="store_true", help=f"only {', '.join(SAMPLE)} instead of the shipped matrix")
    parser.add_argument("--trials", type=int, default=2, help="cold runs of each side, their order alternated (default: 2)")
    parser.add_argument("--sides", nargs="+", choices=ORDER[0], default=list(ORDER[0]),
                        help="only these sides (default: all four); the ratios need a store's both sides")
    parser.add_argument("--no-follow-ups", action="store_true", help="no rerun, next release or dry-run")
    parser.add_argument("--publisher", type=Path, default=ROOT,
                        help="run the publisher of this checkout (e.g. main, for an A/B of one change; default: this one)")
    parser.add_argument("--keep", action="store_true", help="keep every registry's storage, log and cache under .work/bench-run")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `kill` still stops the registries
    work = fresh(ROOT / ".work" / "bench-run")
    try:
        artifacts = prepare_artifacts(work)
        for kind in args.sets:
            result = one_set(kind, args, work, artifacts)
            report(result)
            with RESULTS.open("a") as out:
                out.write(json.dumps(result, sort_keys=True) + "\n")
        return 0
    finally:
        for name in ("classic", "containerd"):
            engine(name).stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
