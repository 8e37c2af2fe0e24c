"""The SBOM's package scans of a bench set's base layers, cold, as attest runs them: each distinct layer
once, on publisher's registry pool (8 threads), from the bases' OCI layout.

    PYTHONPATH=. .venv/bin/python bench/scans.py [--set standard|heavy] [--publisher /path/to/other/checkout]

`--publisher` imports publisher from another checkout (e.g. main) for an A/B in the same minute. Prints
wall and CPU seconds (CPU is what a busy machine cannot distort), the layers and their compressed bytes.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=("standard", "heavy", "huge"), default="standard", dest="kind")
    parser.add_argument("--publisher", type=Path, help="the checkout to import publisher from (default: this one)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench import bases  # this checkout's bench; publisher from the one asked for

    sys.path.insert(0, str(args.publisher or ROOT))
    from publisher.image.oci import Blob
    from publisher.local.scans import Scans

    built = bases.load(args.kind)
    used = {(arch, name) for base in bases.catalog(args.kind) for arch in base.arches for name in base.layers}
    layers = [built.layers[arch][name] for arch, name in sorted(used)]
    blobs = [Blob(layer.digest, layer.size, bases.WORK / "oci" / "blobs" / "sha256" / layer.digest.split(":")[1],
                  "application/vnd.oci.image.layer.v1.tar+gzip") for layer in layers]
    with tempfile.TemporaryDirectory() as cache, ThreadPoolExecutor(8) as pool:
        scans = Scans(Path(cache))
        wall, cpu = time.perf_counter(), time.process_time()
        found = list(pool.map(scans.layer, blobs))
        figures = {"set": args.kind, "publisher": str(args.publisher or ROOT), "layers": len(blobs),
                   "compressed_mb": round(sum(b.size for b in blobs) / 1e6), "wall_s": round(time.perf_counter() - wall, 2),
                   "cpu_s": round(time.process_time() - cpu, 2), "files_kept": sum(len(f.files) for f in found),
                   "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
