"""The physical floor of a publish on each store: what the engine itself takes to get the bases in and
to run the smoke-test containers, with nothing of publisher's around it.

    PYTHONPATH=. /work/main/.venv/bin/python bench/floor.py [--sample] [--set standard|heavy]   # as root; appends to .work/bench-floor.jsonl

Per store, on a cold bench engine: `docker pull --platform P` of every base of the plan, both
platforms (the bases in: download, decompress, unpack); then the smoke-test containers of the plan
(each variant's family tests, on its base; arm64 under qemu), three ways, one image after another:
- `containers_s`: one bare `docker run --rm` per test (the docker CLI: the floor as it always was);
- `per_test_s`: one container per test through publisher's own engine client (`Engine.run`, the SDK);
- `shared_s`: one container per image, each test by exec in it (`Engine.containers`: what publisher does).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bases, peers  # noqa: E402
from bench.engines import engine  # noqa: E402
from bench.publish import SAMPLE, plan_variants  # noqa: E402
from publisher.local.engine import Engine  # noqa: E402

FLOOR = ROOT / ".work" / "bench-floor.jsonl"
POSIX = 3  # the matrix's posix family tests (uv, uvx, /bin/sh -c), and python --version on python bases


def timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return round(time.perf_counter() - start, 2)


def pull_all(eng, refs: list[tuple[str, str]]) -> None:
    for ref, platform in refs:
        eng.docker("pull", "--quiet", "--platform", platform, ref)


def run_all(eng, refs: list[tuple[str, str]]) -> None:
    for ref, platform in refs:
        for _ in range(tests(ref)):
            eng.docker("run", "--rm", "--platform", platform, ref, *COMMAND)


def tests(ref: str) -> int:
    return POSIX + ("/library/python:" in ref)


COMMAND = ["/bin/sh", "-c", "command -v sh"]


def run_per_test(eng, refs: list[tuple[str, str]]) -> None:
    client = Engine(log=lambda *_: None)
    for ref, _ in refs:
        for _ in range(tests(ref)):
            client.run(ref, COMMAND)


def run_shared(eng, refs: list[tuple[str, str]]) -> None:
    client = Engine(log=lambda *_: None)
    for ref, _ in refs:
        containers = client.containers(ref, tests(ref))
        try:
            for _ in range(tests(ref)):
                containers.run(COMMAND)
        finally:
            containers.close()


def floor(store: str, variants: list[dict], mirror: str) -> dict:
    for other in {"classic", "containerd"} - {store}:
        engine(other).stop()
    eng = engine(store).cold()
    derived = [v for v in variants if not v["primary"]]
    refs = [(peers.mirrored(v["base"], mirror), p) for v in derived for p in v["platforms"]]
    figures = {"store": store, "bases_in_s": timed(pull_all, eng, refs), "images": len(refs)}
    figures["containers"] = sum(tests(ref) for ref, _ in refs)  # the primary's (no shell) left out
    figures["containers_s"] = timed(run_all, eng, refs)
    os.environ["DOCKER_HOST"] = eng.host  # publisher's engine client, on the bench engine
    figures["shared_s"] = timed(run_shared, eng, refs)
    figures["per_test_s"] = timed(run_per_test, eng, refs)
    figures["shared_vs_bare"] = round(figures["shared_s"] / figures["containers_s"], 3)
    eng.stop()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", action="store_true", help=f"only {', '.join(SAMPLE)}")
    parser.add_argument("--set", choices=("standard", "heavy"), default="standard", dest="kind",
                        help="which bench bases (bench/bases.py; default: standard)")
    args = parser.parse_args()
    mirror = bases.serve(args.kind)
    try:
        variants = plan_variants(SAMPLE if args.sample else [])
        for store in ("containerd", "classic"):
            result = {"sample": args.sample, "set": args.kind, "variants": len(variants),
                      **floor(store, variants, mirror.host)}
            print(json.dumps(result), flush=True)
            with FLOOR.open("a") as out:
                out.write(json.dumps(result) + "\n")
    finally:
        mirror.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
