"""Benchmark: `publisher publish` against a naive hand-written workflow, every figure measured in one run.

    .venv/bin/python bench/publish.py [--quick] [--signed]   # as root, on a machine set up by .ci/setup

Measured: a cold publish of the shipped matrix (both platforms) and the naive baseline (per variant and
platform `DOCKER_BUILDKIT=1 docker build`, `docker push` of REPO:<tag>-<arch> for every tag, one
`docker manifest create` + `push` per tag; no smoke tests); a rerun of the same release; the next
release (0.6.0); a base refresh of it with one base changed (`--refresh`: alpine:3.20 pushed again,
different, to the mirror); with `--signed`, a cold publish without attestations against a cold one with
attestations and `--sign-key`, and its rerun; the dry-run; plan time of generated matrices. Traffic is counted by a FaultProxy
(no faults) in front of a fresh loopback registry per measured run; bases are stand-ins in a loopback
mirror. `--quick`: primary + alpine3.20 + bookworm-slim. Prints a table, then `BENCH_JSON {...}`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from publisher.local.artifacts import fetch_wheels  # noqa: E402
from publisher.matrix.schema import load_matrix  # noqa: E402
from publisher.options import Arguments, compute_options  # noqa: E402
from publisher.words import plural  # noqa: E402
from tests.fault_proxy import FaultProxy  # noqa: E402
from tests.images import push_base  # noqa: E402
from tests.registry_server import RegistryServer  # noqa: E402

DOCKER = "/usr/bin/docker"  # Debian's 20.10 client: BuildKit through DOCKER_BUILDKIT=1
PUBLISHER = str(ROOT / ".venv" / "bin" / "publisher")
MATRIX = ROOT / "matrix.yaml"
PLATFORMS = ["linux/amd64", "linux/arm64"]
QUICK = ["distroless", "alpine3.20", "bookworm-slim"]
FIRST, NEXT = "0.5.31", "0.6.0"
REPO = "bench/uv"
NAIVE = "bench-naive"  # local repositories bench-naive/<variant>:<arch> of the naive baseline's builds
WHEELS = ROOT / ".work" / "bench-wheels"  # uv wheels, downloaded once and kept between runs
PROVENANCE = ["--created", "1732100000", "--revision", "bench"]  # fixed: a rerun must change nothing
ACCEPT = ", ".join(f"application/vnd.{t}+json" for t in (
    "oci.image.index.v1", "oci.image.manifest.v1", "docker.distribution.manifest.list.v2", "docker.distribution.manifest.v2"))
MB = 1e6
PHASE = re.compile(r"^([a-z-]+): (\d+) in ([\d.]+) s$")
TIMEOUT = 900  # seconds: a cold publish of the shipped matrix takes about 65
REFRESHED = "alpine:3.20"  # the one base the refresh figure changes: variant alpine3.20, 2 images


def sh(*argv: str, env: dict | None = None) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {result.returncode}: {result.stderr.strip()[-1500:]}")
    return result.stdout


def fresh(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def only_args(only: list[str]) -> list[str]:
    return [a for name in only for a in ("--only", name)]


def plan_variants(only: list[str]) -> list[dict]:
    """The release through publisher's JSON contract: name, base, primary, platforms, tags, dockerfile."""
    argv = [PUBLISHER, "publish", "--dry-run", "--offline", "--output", "json", "--version", FIRST, "--matrix", str(MATRIX)]
    return json.loads(sh(*argv, *only_args(only)))["variants"]


def prepare_artifacts(tmp: Path) -> Path:
    """DIR with DIR/<version>/linux-<arch>/{uv,uvx} for --artifacts, from uv's wheels (downloaded once)."""
    for version in (FIRST, NEXT):
        payload = load_matrix(MATRIX).payload
        for platform, folder in fetch_wheels(payload, version, PLATFORMS, WHEELS).items():
            target = fresh(tmp / "artifacts" / version / platform.replace("/", "-"))
            for name in payload.files:
                shutil.copy2(folder / name, target / name)
    return tmp / "artifacts"


def start_mirror(tmp: Path, variants: list[dict]) -> RegistryServer:
    """Stand-ins for every base of the plan, both platforms, laid out like Docker Hub (as tests/conftest.py)."""
    mirror = RegistryServer(fresh(tmp / "mirror")).start()
    for v in variants[1:]:
        python = v["base"].split(":")[1].split("-")[0] if v["base"].startswith("python:") else None
        push_base(fresh(tmp / "bases"), mirror.host, v["base"], v["platforms"], python)
    return mirror


def target(tmp: Path, name: str) -> tuple[RegistryServer, FaultProxy]:
    registry = RegistryServer(fresh(tmp / name)).start()
    return registry, FaultProxy(registry.host, fraction=0.0)


def remove_images(also=lambda repo: False) -> None:
    """Local images of the naive baseline (and those `also` selects), all their tags."""
    ids = set()
    for line in sh(DOCKER, "images", "--format", "{{.Repository}} {{.ID}}").splitlines():
        repo, image_id = line.split()
        if repo.startswith(NAIVE + "/") or repo.endswith("/" + REPO) or also(repo):
            ids.add(image_id)
    if ids:
        subprocess.run([DOCKER, "rmi", "-f", *sorted(ids)], capture_output=True)


def make_cold(mirror: str) -> None:
    """No BuildKit cache; no local image of publisher, of the naive baseline or pulled from the mirror."""
    sh(DOCKER, "builder", "prune", "-af")
    remove_images(lambda repo: repo == "publisher-build" or repo.startswith(mirror + "/"))


def traffic(proxy: FaultProxy, before: dict) -> dict:
    now = proxy.counts()
    return {"bytes_uploaded": now["bytes_received"] - before["bytes_received"],
            "blob_uploads": now["blob_uploads"] - before["blob_uploads"],
            "manifest_puts": now["manifest_puts"] - before["manifest_puts"],
            "requests": sum(now["requests"].values()) - sum(before["requests"].values())}


def run_publisher(version: str, proxy: FaultProxy, mirror: str, cache: Path, artifacts: Path, only: list[str], log: Path,
                  extra: tuple[str, ...] = ()) -> dict:
    """One `publisher publish` as a subprocess: wall time, registry traffic, peak memory."""
    argv = [PUBLISHER, "publish", "--version", version, "--matrix", str(MATRIX), "--repository", f"{proxy.host}/{REPO}",
            "--base-mirror", mirror, "--cache", str(cache), "--artifacts", str(artifacts / version), *PROVENANCE,
            *only_args(only), *extra]
    before, hwm = proxy.counts(), 0
    with log.open("wb") as out:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        while True:  # VmHWM: the peak resident set of the publisher process itself, read until it exits
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > TIMEOUT:  # a hang is reported, with where the log stopped
                process.kill()
                process.wait()
                raise RuntimeError(f"publisher {version} still running after {TIMEOUT} s, killed; the log ends:\n"
                                   + "\n".join(log.read_text(errors="replace").splitlines()[-25:]))
            hwm = max(hwm, _vmhwm_kb(process.pid))
            time.sleep(0.05)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    lines = log.read_text(errors="replace").splitlines()
    if process.returncode != 0:
        raise RuntimeError(f"publisher {version} failed (exit {process.returncode}):\n" + "\n".join(lines[-25:]))
    # ru_maxrss of wait4: the largest of the publisher and every process it waited for (docker CLI, qemu'd uv).
    matches = [m for m in map(PHASE.match, lines) if m]
    phases = {m[1]: float(m[3]) for m in matches}  # where the time went, as publisher logs it
    # derived images made: assembled, plus built beyond the primary (built for every platform, from cache when unchanged)
    made = sum(int(m[2]) for m in matches if m[1] == "assemble") + sum(int(m[2]) - len(PLATFORMS) for m in matches if m[1] == "build")
    return {"wall_s": round(wall, 2), **traffic(proxy, before), "peak_rss_mb": round(hwm / 1024, 1),
            "tree_peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "phases": phases, "derived_made": made,
            "summary": lines[-1] if lines else ""}


def run_staged(tmp: Path, proxy: FaultProxy, mirror: str, artifacts: Path, only: list[str]) -> dict:
    """The release spread as CI runners would: one stage per platform (each its own cache), then the join."""
    runs, folders = {}, []
    for platform in PLATFORMS:
        arch = platform.split("/")[1]
        folders.append(str(fresh(tmp / f"stage-{arch}")))
        extra = ("--platform", platform, "--stage", folders[-1])
        runs[f"stage {arch}"] = run_publisher(FIRST, proxy, mirror, fresh(tmp / f"cache-stage-{arch}"), artifacts, only,
                                              tmp / f"stage-{arch}.log", extra)
        print(f"  stage {arch}: {runs[f'stage {arch}']['wall_s']} s", flush=True)
    runs["join"] = run_publisher(FIRST, proxy, mirror, fresh(tmp / "cache-join"), artifacts, only, tmp / "join.log",
                                 ("--join", *folders))
    print(f"  join: {runs['join']['wall_s']} s: {runs['join']['summary']}", flush=True)
    return runs


def run_refresh(tmp: Path, proxy: FaultProxy, mirror: str, cache: Path, artifacts: Path, only: list[str]) -> dict:
    """NEXT published; then one base changed in the mirror, and `--refresh` of NEXT: its variant's images only."""
    push_base(fresh(tmp / "bases-changed"), mirror, REFRESHED, PLATFORMS, "3.99")  # other content: a new digest
    print(f"publisher refresh {NEXT} ({REFRESHED} changed) ...", flush=True)
    result = run_publisher(NEXT, proxy, mirror, cache, artifacts, only, tmp / "publisher-refresh.log", ("--refresh",))
    print(f"  {result['wall_s']} s, {result['derived_made']} derived images made: {result['summary']}", flush=True)
    return result


def _vmhwm_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def run_naive(tmp: Path, variants: list[dict], proxy: FaultProxy, mirror: str, artifacts: Path) -> dict:
    """A hand-written workflow: build each variant per platform, push every tag per arch, one list per tag."""
    before, start = proxy.counts(), time.perf_counter()
    repo, primary, empty = f"{proxy.host}/{REPO}", variants[0], fresh(tmp / "naive-empty")
    for v in variants:  # the primary first: derived images copy from it
        for platform in v["platforms"]:
            arch = platform.split("/")[1]
            local = f"{NAIVE}/{v['name']}:{arch}"
            argv = [DOCKER, "build", "-q", "--platform", platform, "-f", str(ROOT / v["dockerfile"]), "-t", local]
            if v["primary"]:
                context = artifacts / FIRST / platform.replace("/", "-")
            else:
                name, _, tag = v["base"].partition(":")
                base = f"{mirror}/{name if '/' in name else 'library/' + name}:{tag}"
                argv += ["--build-arg", f"PRIMARY_IMAGE={NAIVE}/{primary['name']}:{arch}", "--build-arg", f"BASE_IMAGE={base}"]
                context = empty
            sh(*argv, str(context), env={"DOCKER_BUILDKIT": "1"})
            for tag in v["tags"]:
                sh(DOCKER, "tag", local, f"{repo}:{tag}-{arch}")
                sh(DOCKER, "push", f"{repo}:{tag}-{arch}")
    for v in variants:
        for tag in v["tags"]:
            sh(DOCKER, "manifest", "create", "--insecure", f"{repo}:{tag}", *[f"{repo}:{tag}-{p.split('/')[1]}" for p in v["platforms"]])
            sh(DOCKER, "manifest", "push", "--purge", "--insecure", f"{repo}:{tag}")
    return {"wall_s": round(time.perf_counter() - start, 2), **traffic(proxy, before), "peak_rss_mb": None}


def _get(host: str, path: str) -> bytes:
    request = urllib.request.Request(f"http://{host}/v2/{path}", headers={"Accept": ACCEPT})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def physical_minimum(registry: str, mirror: str, variants: list[dict]) -> dict:
    """What a publish cannot avoid sending, read from the registry: each distinct base layer once, the uv layers
    once per platform for the primary and once per platform for the derived images, configs and manifests."""
    base, primary_uv, derived_uv, meta = {}, {}, {}, {}
    for v in variants:
        index = _get(registry, f"{REPO}/manifests/{v['tags'][0]}")
        meta["sha256:" + hashlib.sha256(index).hexdigest()] = len(index)
        for entry in json.loads(index)["manifests"]:
            if entry["platform"]["os"] == "unknown":  # an attestation manifest: see attestation_bytes
                continue
            arch, body = entry["platform"]["architecture"], _get(registry, f"{REPO}/manifests/{entry['digest']}")
            manifest = json.loads(body)
            meta[entry["digest"]], meta[manifest["config"]["digest"]] = len(body), manifest["config"]["size"]
            layers = manifest["layers"]
            if v["primary"]:
                primary_uv.update((layer["digest"], layer["size"]) for layer in layers)
                continue
            k = _base_layer_count(mirror, v["base"], arch)  # the base's layers first, then COPY --from=uv
            base.update((layer["digest"], layer["size"]) for layer in layers[:k])
            derived_uv.setdefault(arch, {})[tuple(layer["digest"] for layer in layers[k:])] = sum(layer["size"] for layer in layers[k:])
    figures = {"base_layers": sum(base.values()), "uv_primary": sum(primary_uv.values()),
               "uv_derived": sum(min(sizes.values()) for sizes in derived_uv.values()), "configs_manifests": sum(meta.values()),
               "attestations": attestation_bytes(registry, variants)}
    figures["total"] = sum(figures.values())
    figures["derived_uv_layers_per_platform"] = {arch: len(sizes) for arch, sizes in derived_uv.items()}  # 1: shared
    return figures


def attestation_bytes(registry: str, variants: list[dict]) -> int:
    """The attestation manifests of every index, with their configs and statements."""
    sizes = {}
    for v in variants:
        for entry in json.loads(_get(registry, f"{REPO}/manifests/{v['tags'][0]}"))["manifests"]:
            if entry["platform"]["os"] == "unknown":
                manifest = json.loads(_get(registry, f"{REPO}/manifests/{entry['digest']}"))
                sizes[entry["digest"]] = entry["size"]
                sizes.update((b["digest"], b["size"]) for b in [manifest["config"], *manifest["layers"]])
    return sum(sizes.values())


def signed_runs(tmp: Path, mirror: str, artifacts: Path, only: list[str], cold: dict, servers: list) -> dict:
    """The cost of attestations and signatures, both publishes measured, each cold on its own fresh registry,
    proxy and cache: `--no-attestations` without a key, then with attestations and `--sign-key`, twice in
    turn, the faster of each compared; then the signed rerun. `cold` (the main cold run: attested, unsigned) only splits the cost, as information."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = tmp / "bench-sign-key.pem"
    key.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    registries, trials = {}, {"cold_plain": [], "cold_signed": []}

    def measured(name: str, proxy: FaultProxy, cache: Path, extra: tuple[str, ...]) -> dict:
        print(f"publisher {name} {FIRST} ...", flush=True)
        run = run_publisher(FIRST, proxy, mirror, cache, artifacts, only, tmp / f"publisher-{name}.log", extra)
        print(f"  {run['wall_s']} s: {run['summary']}", flush=True)
        return run

    signing = ("--sign-key", str(key))
    for trial in (1, 2):  # alternated, the faster of each kept: the machine's drift meets both sides alike
        for name, extra in (("cold_plain", ("--no-attestations",)), ("cold_signed", signing)):
            registries[name], proxy = target(tmp, f"registry-{name}-{trial}")
            servers += [registries[name], proxy]
            make_cold(mirror)
            trials[name].append(measured(f"{name}-{trial}", proxy, fresh(tmp / f"cache-{name}-{trial}"), extra))
    runs = {name: min(found, key=lambda run: run["wall_s"]) for name, found in trials.items()}
    # the last signed publish again: same registry, same cache
    runs["rerun_signed"] = measured("rerun_signed", proxy, tmp / "cache-cold_signed-2", signing)
    variants = plan_variants(only)
    if attestation_bytes(registries["cold_plain"].host, variants):
        raise RuntimeError("the --no-attestations publish left attestation manifests in its indexes")
    added = runs["cold_signed"]["bytes_uploaded"] - runs["cold_plain"]["bytes_uploaded"]
    attested = attestation_bytes(registries["cold_signed"].host, variants)
    return {**runs, "trials_wall_s": {name: [run["wall_s"] for run in found] for name, found in trials.items()},
            "bytes_added": added, "attestation_bytes": attested,
            "signature_bytes": signature_bytes(registries["cold_signed"].host, variants),
            "attest_phase_s": runs["cold_signed"]["phases"].get("attest", 0.0),
            "attested_unsigned_vs_plain_wall": round(cold["wall_s"] / runs["cold_plain"]["wall_s"], 3),
            "signed_attested_vs_plain_wall": round(runs["cold_signed"]["wall_s"] / runs["cold_plain"]["wall_s"], 3)}


def signature_bytes(registry: str, variants: list[dict]) -> int:
    """The cosign signature manifests (`sha256-<hex>.sig`) of every index and platform manifest, with their blobs."""
    sizes = {}
    for v in variants:
        index = _get(registry, f"{REPO}/manifests/{v['tags'][0]}")
        signed = ["sha256:" + hashlib.sha256(index).hexdigest()] + [
            m["digest"] for m in json.loads(index)["manifests"] if m["platform"]["os"] != "unknown"]
        for digest in signed:
            body = _get(registry, f"{REPO}/manifests/{digest.replace(':', '-')}.sig")
            manifest = json.loads(body)
            sizes["sha256:" + hashlib.sha256(body).hexdigest()] = len(body)
            sizes.update((b["digest"], b["size"]) for b in [manifest["config"], *manifest["layers"]])
    return sum(sizes.values())


def _base_layer_count(mirror: str, base: str, arch: str) -> int:
    name, _, tag = base.partition(":")
    path = name if "/" in name else f"library/{name}"
    index = json.loads(_get(mirror, f"{path}/manifests/{tag}"))
    digest = next(m["digest"] for m in index["manifests"] if m["platform"]["architecture"] == arch)
    return len(json.loads(_get(mirror, f"{path}/manifests/{digest}"))["layers"])


def dry_run_median(runs: int = 10) -> dict:
    """`publisher publish --dry-run --offline --version 0.5.31` of the shipped matrix, interpreter start included."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([PUBLISHER, "publish", "--dry-run", "--offline", "--version", FIRST], cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3), "runs": runs}


def plan_scaling(tmp: Path, sizes=(100, 1_000, 10_000)) -> dict:
    """compute_options (matrix read, Dockerfiles rendered, Plan made) in-process, best of 3, for generated matrices."""
    header, results = MATRIX.read_text().split("\nvariants:\n")[0], {}
    for n in sizes:
        folder = fresh(tmp / f"plan-{n}" / "variants").parent
        shutil.copy(ROOT / "variants" / "Dockerfile.j2", folder / "variants")
        values = ", ".join(f'"{i}"' for i in range(1, n))  # n - 1 derived variants and the primary
        entry = f'  - expand:\n      i: [{values}]\n    base: "alpine:3.{{i}}"\n    family: alpine\n    tags: ["a{{i}}", "alpine-a{{i}}"]\n'
        (folder / "matrix.yaml").write_text(f"{header}\nvariants:\n{entry}")
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            args = Arguments(matrix=str(folder / "matrix.yaml"), version=FIRST, created="2024-11-20T10:53:20Z", revision="bench")
            plan = compute_options(args).plan
            best = min(best, time.perf_counter() - start)
        assert len(plan.variants) == n, (n, len(plan.variants))
        results[n] = {"seconds": round(best, 3), "us_per_variant": round(best / n * 1e6, 1)}
    return results


def report(r: dict) -> None:
    def cell(value, width, spec):
        return f"{value:{width}{spec}}" if value is not None else f"{'-':>{width}}"

    print(f"\n{'run':<24}{'wall s':>8}{'MB up':>9}{'blob PUTs':>11}{'manifest PUTs':>15}{'requests':>10}{'peak RSS MB':>13}")
    for key, label in (("naive", "naive baseline"), ("cold", f"publisher cold {FIRST}"),
                       ("rerun", f"publisher rerun {FIRST}"), ("next", f"publisher next {NEXT}"),
                       ("refresh", f"publisher refresh {NEXT}")):
        x = r[key]
        print(f"{label:<24}{x['wall_s']:8.1f}{x['bytes_uploaded'] / MB:9.2f}{x['blob_uploads']:11d}{x['manifest_puts']:15d}"
              f"{x['requests']:10d}{cell(x['peak_rss_mb'], 13, '.1f')}")
    for key, x in r["staged"].items():
        print(f"{'publisher ' + key:<24}{x['wall_s']:8.1f}{x['bytes_uploaded'] / MB:9.2f}{x['blob_uploads']:11d}"
              f"{x['manifest_puts']:15d}{x['requests']:10d}{cell(x['peak_rss_mb'], 13, '.1f')}")
    for key in ("cold", "rerun", "next", "refresh"):
        print(f"  {key} phases (s): " + ", ".join(f"{name} {sec:.1f}" for name, sec in r[key]["phases"].items()))
    m, t = r["minimum"], r["ratios"]
    print(f"\nphysical minimum {m['total'] / MB:.2f} MB: base layers {m['base_layers'] / MB:.2f}, uv primary {m['uv_primary'] / MB:.2f},"
          f" uv derived {m['uv_derived'] / MB:.2f}, configs+manifests {m['configs_manifests'] / MB:.3f}"
          f" (distinct derived uv layers per platform: {m['derived_uv_layers_per_platform']})")
    print(f"bytes uploaded / minimum: cold publish {t['cold_bytes_vs_minimum']:.3f}, naive {t['naive_bytes_vs_minimum']:.3f}")
    print(f"the naive baseline runs no smoke test; {r['cold']['summary']}")
    if r.get("signed"):
        sc = r["signed"]
        print(f"attestations + signatures: cold with attestations and --sign-key {sc['cold_signed']['wall_s']:.1f} s "
              f"(attest phase {sc['attest_phase_s']:.1f} s) vs cold --no-attestations unsigned {sc['cold_plain']['wall_s']:.1f} s: "
              f"{sc['signed_attested_vs_plain_wall']:.3f} x (attested, unsigned cold run: {sc['attested_unsigned_vs_plain_wall']:.3f} x); "
              f"bytes added {sc['bytes_added'] / MB:.3f} MB (attestations {sc['attestation_bytes'] / MB:.3f} MB, "
              f"signatures {sc['signature_bytes'] / MB:.3f} MB); "
              f"rerun signed: {sc['rerun_signed']['blob_uploads']} blob uploads, {sc['rerun_signed']['manifest_puts']} manifest PUTs; "
              f"trials (s): {sc['trials_wall_s']}")
    print(f"dry-run of the shipped matrix: median {r['dry_run']['median_s']:.3f} s of {r['dry_run']['runs']} runs (min {r['dry_run']['min_s']:.3f} s)")
    for n, p in r["plan"].items():
        print(f"plan of {n:>6,} variants: {p['seconds']:.3f} s, {p['us_per_variant']:.1f} us per variant")
    checks = [
        (f"cold publish <= 0.5 x naive wall time: {t['cold_vs_naive_wall']:.3f} x", t["cold_vs_naive_wall"] <= 0.5),
        (f"rerun <= 0.05 x cold, 0 blob uploads:  {t['rerun_vs_cold_wall']:.3f} x, {plural(r['rerun']['blob_uploads'], 'upload')}",
         t["rerun_vs_cold_wall"] <= 0.05 and r["rerun"]["blob_uploads"] == 0),
        (f"refresh, one base changed <= 0.15 x cold, 2 images: {t['refresh_vs_cold_wall']:.3f} x, {plural(r['refresh']['derived_made'], 'image')}",
         t["refresh_vs_cold_wall"] <= 0.15 and r["refresh"]["derived_made"] == 2),
        (f"dry-run <= 0.3 s:                      {r['dry_run']['median_s']:.3f} s", r["dry_run"]["median_s"] <= 0.3),
        (f"join < 0.1 x one-machine cold:         {t['join_vs_cold_wall']:.3f} x", t["join_vs_cold_wall"] < 0.1),
        (f"staged: no blob uploaded twice:        {t['staged_blob_uploads']} uploads (one machine: {r['cold']['blob_uploads']})",
         t["staged_blob_uploads"] <= r["cold"]["blob_uploads"]),
        (f"plan of 10,000 variants < 2 s:         {r['plan'][10_000]['seconds']:.3f} s", r["plan"][10_000]["seconds"] < 2),
    ]
    if r.get("signed"):
        sc = r["signed"]
        checks += [(f"signed+attested <= 1.1 x without:       {sc['signed_attested_vs_plain_wall']:.3f} x",
                    sc["signed_attested_vs_plain_wall"] <= 1.1),
                    (f"signed rerun: 0 uploads, 0 PUTs:        {sc['rerun_signed']['blob_uploads']}, {sc['rerun_signed']['manifest_puts']}",
                     sc["rerun_signed"]["blob_uploads"] == 0 and sc["rerun_signed"]["manifest_puts"] == 0)]
    print("\ntargets:\n" + "\n".join(f"  {text:<58}{'PASS' if ok else 'FAIL'}" for text, ok in checks))
    print("BENCH_JSON " + json.dumps(r, sort_keys=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="primary + alpine3.20 + bookworm-slim instead of the shipped matrix")
    parser.add_argument("--signed", action="store_true", help="also a cold --no-attestations publish against a cold "
                        "attested one with --sign-key, and its rerun: the cost of attestations and signatures, the bytes they add")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `kill` still stops the registries and cleans up
    only = QUICK if args.quick else []
    tmp, servers = Path(tempfile.mkdtemp(prefix="bench-publish-")), []
    try:
        variants = plan_variants(only)
        assert variants[0]["primary"], "the plan lists the primary image first"
        shape = {"quick": args.quick, "variants": len(variants), "images": sum(len(v["platforms"]) for v in variants),
                 "tags": sum(len(v["tags"]) for v in variants), "cpus": os.cpu_count()}
        print(f"matrix: {plural(shape['variants'], 'variant')}, {plural(shape['images'], 'image')}, "
              f"{plural(shape['tags'], 'tag')}; {plural(shape['cpus'], 'CPU')}", flush=True)
        artifacts = prepare_artifacts(tmp)
        mirror = start_mirror(tmp, variants)
        naive_registry, naive_proxy = target(tmp, "naive-registry")
        servers += [mirror, naive_registry, naive_proxy]
        make_cold(mirror.host)
        print("naive baseline ...", flush=True)
        naive = run_naive(tmp, variants, naive_proxy, mirror.host, artifacts)
        print(f"  {naive['wall_s']} s, {naive['blob_uploads']} blob uploads, {naive['manifest_puts']} manifest PUTs", flush=True)

        registry, proxy = target(tmp, "registry")
        servers += [registry, proxy]
        make_cold(mirror.host)
        cache, runs, minimum = fresh(tmp / "cache"), {}, None
        for key, version in (("cold", FIRST), ("rerun", FIRST), ("next", NEXT)):
            print(f"publisher {key} {version} ...", flush=True)
            runs[key] = run_publisher(version, proxy, mirror.host, cache, artifacts, only, tmp / f"publisher-{key}.log")
            print(f"  {runs[key]['wall_s']} s: {runs[key]['summary']}", flush=True)
            minimum = minimum or physical_minimum(registry.host, mirror.host, variants)  # what the cold publish left

        print("publisher staged: a stage per platform, then the join, into another registry ...", flush=True)
        staged_registry, staged_proxy = target(tmp, "staged-registry")
        servers += [staged_registry, staged_proxy]
        staged = run_staged(tmp, staged_proxy, mirror.host, artifacts, only)
        runs["refresh"] = run_refresh(tmp, proxy, mirror.host, cache, artifacts, only)  # last: it changes the mirror

        signed = signed_runs(tmp, mirror.host, artifacts, only, runs["cold"], servers) if args.signed else None
        print("dry-run and plan scaling ...", flush=True)
        results = {**shape, "naive": naive, **runs, "staged": staged, "minimum": minimum, "dry_run": dry_run_median(),
                   "plan": plan_scaling(tmp), "signed": signed}
        results["ratios"] = {
            "cold_vs_naive_wall": round(runs["cold"]["wall_s"] / naive["wall_s"], 3),
            "rerun_vs_cold_wall": round(runs["rerun"]["wall_s"] / runs["cold"]["wall_s"], 3),
            "next_vs_cold_wall": round(runs["next"]["wall_s"] / runs["cold"]["wall_s"], 3),
            "refresh_vs_cold_wall": round(runs["refresh"]["wall_s"] / runs["cold"]["wall_s"], 3),
            "cold_bytes_vs_minimum": round(runs["cold"]["bytes_uploaded"] / minimum["total"], 3),
            "naive_bytes_vs_minimum": round(naive["bytes_uploaded"] / minimum["total"], 3),
            "join_vs_cold_wall": round(staged["join"]["wall_s"] / runs["cold"]["wall_s"], 3),
            "staged_blob_uploads": sum(x["blob_uploads"] for x in staged.values()),
        }
        report(results)
        return 0
    finally:
        for server in reversed(servers):
            server.stop()
        remove_images()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
