"""Pure pieces of publishing: smoke-test verdicts, config checks, OCI values (base mirrors: test_values)."""

import gzip
import json
from pathlib import Path

import pytest

from publisher.image import oci
from publisher.image.platform import parse_platform
from publisher.local.layers import compress_layer
from publisher.matrix.schema import SmokeTest, Variant
from publisher.release.verdicts import check_config, judge


def test_judge_names_expected_and_actual():
    test = SmokeTest(("uv", "--version"), "^uv {version}( |$)")
    assert judge(test, "0.5.31", 0, "uv 0.5.31 (abc 2025-01-01)\n", "") is None
    assert judge(test, "0.5.31", 0, "uv 0.5.310\n", "") == "expected stdout matching '^uv 0\\\\.5\\\\.31( |$)', got 'uv 0.5.310'"
    assert judge(test, "0.5.31", 139, "", "Segmentation fault\n") == "expected exit code 0, got 139: 'Segmentation fault'"


def test_judge_says_a_command_missing_from_the_image_did_not_start():
    shell = SmokeTest(("sh", "-c", "uv --version"), None)
    missing = 'exec: "sh": executable file not found in $PATH'
    assert judge(shell, "0.5.31", 127, "", "", missing) == f"did not start: {missing!r}"
    assert judge(SmokeTest(("sh",), None, 127), "0.5.31", 127, "", "", missing) is None  # a test that there is no shell


def variant(config: dict) -> Variant:
    return Variant("alpine3.20", "alpine:3.20", "alpine", ("alpine3.20",), (parse_platform("linux/arm64"),), (), config, 1, (1,))


def test_a_smoke_test_whose_output_the_engine_lost_is_run_once_more():
    """The retry is local/containers' (a container per test here, the engine's runs given in order); the verdict steps/smoke's."""
    from publisher.local.containers import Exited, PerTest
    from publisher.steps.smoke import judged

    class Runs:  # what the engine's runs gave, in order; what each was asked
        def __init__(self, *runs):
            self.runs, self.asked = list(runs), []

        def run(self, image, command):
            self.asked.append(command)
            return self.runs.pop(0)

    def tested(*runs, test=SmokeTest(("uv", "--version"), "^uv {version}( |$)")) -> tuple[str | None, int]:
        engine = Runs(*runs)
        return judged(PerTest(engine, "image", "a single test"), test, "0.5.31"), len(engine.asked)

    assert tested(Exited(0, "", ""), Exited(0, "uv 0.5.31\n", "")) == (None, 2)
    assert tested(Exited(0, "", ""), Exited(0, "", "")) == ("expected stdout matching '^uv 0\\\\.5\\\\.31( |$)', got ''", 2)
    wrong, runs = tested(Exited(0, "uv 9.9.9\n", ""))  # output that came is judged once
    assert wrong.endswith("got 'uv 9.9.9'") and runs == 1
    missing = 'exec: "uv": executable file not found in $PATH'  # a command that did not start is not run again
    assert tested(Exited(127, "", "", missing)) == (f"did not start: {missing!r}", 1)
    assert tested(Exited(0, "", ""), test=SmokeTest(("true",), None)) == (None, 1)  # silent, and passing: once


def test_config_check_compares_config_labels_and_platform():
    attrs = {"Os": "linux", "Architecture": "arm64",
             "Config": {"Entrypoint": None, "Cmd": ["/usr/local/bin/uv"], "Env": ["PATH=/bin"], "Labels": {"a": "1"}}}
    ok = variant({"entrypoint": None, "cmd": ["/usr/local/bin/uv"], "env": {"PATH": "/bin"}})
    assert check_config(ok, parse_platform("linux/arm64"), attrs, {"a": "1"}) == []
    wrong = variant({"entrypoint": ["/uv"], "cmd": ["/usr/local/bin/uv"]})
    assert check_config(wrong, parse_platform("linux/amd64"), attrs, {"a": "2"}) == [
        "alpine3.20 linux/amd64: image config entrypoint: expected ['/uv'], got None",
        "alpine3.20 linux/amd64: label a: expected '2', got '1'",
        "alpine3.20 linux/amd64: image platform: expected linux/amd64, got linux/arm64",
    ]


def test_layers_compress_reproducibly_and_once(tmp_path):
    layer = tmp_path / "layer.tar"
    layer.write_bytes(b"uv" * 10000)
    first = compress_layer(layer, tmp_path)
    first.path.unlink()
    second = compress_layer(layer, tmp_path)
    assert first == second  # same bytes: same digest on any machine, any run
    assert gzip.decompress(second.path.read_bytes()) == layer.read_bytes()


def test_threads_of_one_publish_write_the_same_canonical_layer_at_once(tmp_path):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from publisher.local.layers import workdir_layer

    for attempt in range(20):  # both platforms' exports of a primary with a WORKDIR, on a fresh cache
        into = tmp_path / str(attempt)
        into.mkdir()
        start = threading.Barrier(4)

        def write(_):
            start.wait()
            return workdir_layer("io", into)

        with ThreadPoolExecutor(4) as pool:
            made = list(pool.map(write, range(4)))
        assert made == [into / "workdir-io.tar"] * 4 and not list(into.glob("*.partial"))


def test_index_lists_platforms_and_carries_annotations(tmp_path):
    blob = oci.Blob("sha256:" + "a" * 64, 10, tmp_path / "x")
    images = [oci.Image(parse_platform(p), b"{}", (blob,)) for p in ("linux/amd64", "linux/arm/v7")]
    index = json.loads(oci.index(images, {"org.opencontainers.image.version": "0.5.31"}))
    assert [m["platform"] for m in index["manifests"]] == [
        {"architecture": "amd64", "os": "linux"}, {"architecture": "arm", "os": "linux", "variant": "v7"}]
    assert index["manifests"][0]["digest"] == images[0].digest == oci.digest(images[0].manifest)
    assert index["annotations"] == {"org.opencontainers.image.version": "0.5.31"}



def test_a_manifest_is_read_as_its_config_and_layers(tmp_path):
    blob = oci.Blob("sha256:" + "a" * 64, 10, tmp_path / "x")
    image = oci.Image(parse_platform("linux/amd64"), b"{}", (blob,))
    layer = {"mediaType": oci.LAYER, "digest": blob.digest, "size": 10}
    assert oci.layers_of(image.manifest) == [layer]
    assert oci.blobs_of(image.manifest) == [{"mediaType": oci.CONFIG, "digest": oci.digest(b"{}"), "size": 2}, layer]
    assert oci.layers_of(None) == oci.layers_of(b"") == oci.layers_of(b'{"layers": null}') == []

def test_progress_is_a_live_line_on_a_terminal_and_plain_lines_elsewhere():
    import io

    from publisher.progress import Progress

    plain, live = io.StringIO(), io.StringIO()
    for stream, is_live in ((plain, False), (live, True)):
        progress = Progress(stream, live=is_live)
        with progress.phase("build", 2) as tick:
            tick("alpine3.20 linux/amd64")
            progress.log("builder: x")
            tick("alpine3.20 linux/arm64")
    assert plain.getvalue().splitlines()[:3] == ["build 1/2: alpine3.20 linux/amd64", "builder: x", "build 2/2: alpine3.20 linux/arm64"]
    assert plain.getvalue().splitlines()[3].startswith("build: 2 in ")
    assert "\r\033[K[build 2/2] alpine3.20 linux/arm64" in live.getvalue()
    assert "build 1/2:" not in live.getvalue()


@pytest.mark.parametrize(("platform", "config", "entry"), [
    ("linux/arm64", {"os": "linux", "architecture": "arm64", "variant": "v8"},
     {"os": "linux", "architecture": "arm64", "variant": "v8"}),
    ("linux/arm64", {"os": "linux", "architecture": "arm64"}, {"os": "linux", "architecture": "arm64"}),
    ("linux/arm/v7", {"os": "linux", "architecture": "arm"}, {"os": "linux", "architecture": "arm", "variant": "v7"}),
    ("windows/amd64", {"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.1"},
     {"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.1"}),
])
def test_index_entries_say_the_platform_the_config_says(platform, config, entry):
    image = oci.Image(parse_platform(platform), json.dumps(config).encode(), ())
    assert image.platform_entry() == entry
    assert json.loads(oci.index([image], {}))["manifests"][0]["platform"] == entry


def test_assembled_arm64_configs_say_the_platform_as_buildkit_writes_it():
    from publisher.image import recipe

    base = json.dumps({"os": "linux", "architecture": "arm64", "variant": "v8", "config": {},
                       "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    steps = recipe.read("ARG PRIMARY_IMAGE\nARG BASE_IMAGE=alpine\nFROM ${PRIMARY_IMAGE} AS uv\nFROM ${BASE_IMAGE}\n"
                        "COPY --from=uv /uv /uvx /usr/local/bin/\n", ("/uv", "/uvx"))
    document = json.loads(recipe.config(base, steps, ["sha256:" + "0" * 64], {}, None, "alpine"))
    assert (document["architecture"], "variant" in document) == ("arm64", False)


def test_bases_load_in_waves_after_those_whose_first_layers_they_share():
    from publisher.image.oci import Blob
    from publisher.holdings.bases import FetchedBase
    from publisher.steps.assemble import _waves

    def base(name: str, *layers: str) -> FetchedBase:
        return FetchedBase(name.encode(), tuple(Blob("sha256:" + n, 1, Path(n)) for n in layers))

    pythons = [base(f"python3.{i}", "os", "curl", "scm", "dev", f"py{i}") for i in (11, 12, 13)]
    bases = [*pythons, base("bookworm", "os"), base("buildpack-deps", "os", "curl", "scm", "dev"),
             base("slim", "slim"), base("python-slim", "slim", "py"), base("alpine", "alpine")]
    waves = [[b.config.decode() for b in wave] for wave in _waves(bases)]
    # Bases sharing nothing load at once; one sharing first layers waits for the base it shares most with,
    # and bases that share with each other as much as with that one load together, not one after another.
    assert waves == [["bookworm", "slim", "alpine"], ["python-slim", "buildpack-deps"], ["python3.11", "python3.12", "python3.13"]]
