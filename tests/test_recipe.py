"""Reading derived Dockerfiles as recipes, and the configs assembled from them: pure, no engine."""

from __future__ import annotations

import json

import pytest

from publisher.image import recipe
from publisher.image.platform import parse_platform
from publisher.image.reference import parse
from publisher.matrix.schema import load_matrix
from tests.conftest import ROOT

SOURCES = ("/uv", "/uvx")  # where the shipped primary holds the payload

DERIVED = """\
# GENERATED: a comment
ARG PRIMARY_IMAGE
ARG BASE_IMAGE=alpine:3.20
FROM ${PRIMARY_IMAGE} AS uv
FROM ${BASE_IMAGE}
COPY --from=uv /uv /uvx /usr/local/bin/
ENTRYPOINT []
CMD ["/usr/local/bin/uv"]
"""


def test_every_shipped_derived_dockerfile_is_a_recipe_on_its_own_base():
    matrix = load_matrix(ROOT / "matrix.yaml")
    for v in matrix.variants:
        found = recipe.read((ROOT / "variants" / v.name / "Dockerfile").read_text(), SOURCES)
        if v.primary:
            assert found is None
        else:
            assert found is not None and found.base == v.base and found.target == "usr/local/bin", v.name


def test_the_template_dockerfile_reads_as_its_steps():
    r = recipe.read(DERIVED, SOURCES)
    assert str(r.base) == "alpine:3.20" and r.base.name == "docker.io/library/alpine:3.20"
    assert [(s.kind, s.value) for s in r.steps] == [
        ("COPY", "usr/local/bin"), ("ENTRYPOINT", []), ("CMD", ["/usr/local/bin/uv"])]
    assert r.steps[0].line == "COPY --from=uv /uv /uvx /usr/local/bin/"


@pytest.mark.parametrize("change", [
    ("CMD [\"/usr/local/bin/uv\"]", "RUN apk add git\nCMD [\"/usr/local/bin/uv\"]"),  # a command to run: BuildKit
    ("ENTRYPOINT []", "WORKDIR /io"),  # creates a folder: a layer
    ("ENTRYPOINT []", "USER 1000"),
    ("CMD [\"/usr/local/bin/uv\"]", "CMD /usr/local/bin/uv"),  # shell form
    ("ENTRYPOINT []", "ENV PATH=/opt/bin:$PATH"),  # expansion
    ("ENTRYPOINT []", "ENV LANG C.UTF-8"),  # legacy form
    ("# GENERATED: a comment", "# syntax=docker/dockerfile:1"),  # a frontend image
    ("COPY --from=uv", "COPY --chown=1000 --from=uv"),
    ("COPY --from=uv /uv /uvx /usr/local/bin/", "COPY --from=uv /uv /usr/local/bin/"),
    ("COPY --from=uv /uv /uvx /usr/local/bin/", "COPY --from=uv /uv /uvx /usr/local/bin/uv"),  # not a folder
    ("COPY --from=uv /uv /uvx /usr/local/bin/", "COPY --from=uv /uv /uvx /../"),
    ("ARG BASE_IMAGE=alpine:3.20", "ARG BASE_IMAGE"),  # no default: nothing to assemble on
    ("FROM ${BASE_IMAGE}", "FROM --platform=linux/amd64 ${BASE_IMAGE}"),
    ("FROM ${PRIMARY_IMAGE} AS uv", "FROM ghcr.io/astral-sh/uv:latest AS uv"),  # not the primary just built
    ("CMD [\"/usr/local/bin/uv\"]", "CMD [\"/usr/local/bin/uv\"]\nCOPY --from=uv /uv /uvx /opt/"),  # two layers
    ("ENTRYPOINT []", "ENTRYPOINT [] \\\n  "),  # a continued line
])
def test_anything_else_is_left_to_buildkit(change):
    old, new = change
    assert old in DERIVED
    assert recipe.read(DERIVED.replace(old, new, 1), SOURCES) is None


def test_config_and_label_steps_are_read():
    text = DERIVED.replace("ENTRYPOINT []", 'ENV LANG=C.UTF-8 UV_LINK_MODE=copy\nLABEL a="b c"\nENTRYPOINT ["/usr/local/bin/uv"]')
    r = recipe.read(text.replace("COPY --from=uv", "COPY --link --from=uv"), SOURCES)
    assert [(s.kind, s.value) for s in r.steps][1:] == [
        ("ENV", {"LANG": "C.UTF-8", "UV_LINK_MODE": "copy"}), ("LABEL", {"a": "b c"}),
        ("ENTRYPOINT", ["/usr/local/bin/uv"]), ("CMD", ["/usr/local/bin/uv"])]


BASE = {
    "architecture": "arm64", "os": "linux", "variant": "v8",
    "config": {"Env": ["PATH=/usr/bin", "LANG=C"], "Cmd": ["/bin/sh"], "Labels": {"base": "yes"}},
    "container_config": {"Cmd": ["/bin/sh", "-c", "#(nop) CMD"]},
    "history": [{"created_by": "ADD rootfs"}, {"created_by": "CMD sh", "empty_layer": True}],
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "a" * 64, "sha256:" + "b" * 64]},
}


def assembled(text: str, labels=None, created="2024-11-20T10:53:20Z", base=BASE) -> dict:
    r = recipe.read(text, SOURCES)
    return json.loads(recipe.config(json.dumps(base).encode(), r, ["sha256:" + "c" * 64], labels or {}, created, "alpine:3.20"))


def test_assembled_config_follows_dockerfile_semantics():
    config = assembled(DERIVED, {"org.opencontainers.image.version": "0.5.31"})
    assert config["config"]["Entrypoint"] is None  # ENTRYPOINT [] clears it...
    assert config["config"]["Cmd"] == ["/usr/local/bin/uv"]  # ...and the base's CMD; then CMD sets it
    assert config["config"]["Env"] == ["PATH=/usr/bin", "LANG=C"]
    assert config["config"]["Labels"] == {"base": "yes", "org.opencontainers.image.version": "0.5.31"}
    # The platform as BuildKit writes it for a build of this Dockerfile: normalized, arm64/v8 is arm64
    # (tests/test_publish.py compares with a real BuildKit build on an arm64/v8 base).
    assert (config["architecture"], config["os"], config.get("variant")) == ("arm64", "linux", None)
    assert config["rootfs"]["diff_ids"] == ["sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:" + "c" * 64]
    assert config["created"] == "2024-11-20T10:53:20Z"
    assert "container_config" not in config  # it described how the base was built
    # One history entry per layer: the base accounted for one of its two, so one is added for it.
    layers = [h for h in config["history"] if not h.get("empty_layer")]
    assert len(layers) == 3 and layers[0]["created_by"] == "FROM alpine:3.20"
    assert config["history"][-1] == {"created": "2024-11-20T10:53:20Z", "created_by": 'CMD ["/usr/local/bin/uv"]',
                                     "comment": recipe.COMMENT, "empty_layer": True}


def test_entrypoint_keeps_a_cmd_set_before_it_and_env_replaces_in_place():
    text = DERIVED.replace("ENTRYPOINT []\nCMD [\"/usr/local/bin/uv\"]",
                           'CMD ["--help"]\nENV LANG=C.UTF-8 TZ=UTC\nENTRYPOINT ["/usr/local/bin/uv"]\nLABEL base=no')
    config = assembled(text, {"base": "plan"})["config"]
    assert config["Cmd"] == ["--help"] and config["Entrypoint"] == ["/usr/local/bin/uv"]
    assert config["Env"] == ["PATH=/usr/bin", "LANG=C.UTF-8", "TZ=UTC"]
    assert config["Labels"] == {"base": "plan"}  # the plan's labels come last, as --label does


def test_assembled_config_bytes_are_reproducible():
    first = recipe.config(json.dumps(BASE).encode(), recipe.read(DERIVED, SOURCES), ["sha256:" + "c" * 64], {}, None, "alpine")
    again = recipe.config(json.dumps(BASE).encode(), recipe.read(DERIVED, SOURCES), ["sha256:" + "c" * 64], {}, None, "alpine")
    assert first == again


PRIMARY = (ROOT / "variants" / "distroless" / "Dockerfile").read_text()


def test_the_shipped_primary_is_a_recipe_on_scratch():
    r = recipe.read_primary(PRIMARY, ("uv", "uvx"), "/")
    assert r is not None and r.base is None  # FROM scratch
    assert [(s.kind, s.value) for s in r.layers] == [("COPY", ""), ("WORKDIR", "io")]
    config = json.loads(recipe.config(recipe.scratch_config(parse_platform("linux/arm64")), r, ["sha256:" + "a" * 64, "sha256:" + "b" * 64],
                                      {"x": "y"}, "2024-11-20T10:53:20Z", "scratch"))
    assert (config["architecture"], config["os"], config.get("variant")) == ("arm64", "linux", None)
    assert config["config"] == {"Env": [recipe.DEFAULT_PATH], "Entrypoint": ["/uv"], "Cmd": None, "WorkingDir": "/io",
                                "Labels": {"x": "y"}}
    assert config["rootfs"]["diff_ids"] == ["sha256:" + "a" * 64, "sha256:" + "b" * 64]
    assert [h.get("empty_layer", False) for h in config["history"]] == [False, False, True]
    assert json.loads(recipe.scratch_config(parse_platform("linux/arm/v7")))["variant"] == "v7"


@pytest.mark.parametrize("copy", [
    "COPY uvx uv /",  # the files in another order: the layer keeps the payload's
    "COPY --link uv uvx /",
    "COPY ./uv ./uvx /",
    'COPY ["uv", "uvx", "/"]',
    "COPY uv /uv\nCOPY uvx /uvx",  # a file to its own path, one COPY each: two layers
    "COPY --link uv /\nCOPY [\"uvx\", \"/uvx\"]",
])
def test_a_primary_copying_the_payload_in_any_form_is_a_recipe(copy):
    r = recipe.read_primary(PRIMARY.replace("COPY uv uvx /", copy), ("uv", "uvx"), "/")
    assert r is not None and r.base is None
    copies = [s for s in r.layers if s.kind == "COPY"]
    assert [name for s in copies for name in s.files] == ["uv", "uvx"] and {s.value for s in copies} == {""}
    assert len(copies) == copy.count("COPY") and r.layers[-1] == next(s for s in r.steps if s.kind == "WORKDIR")


def test_a_primary_holding_its_files_in_a_folder_copies_them_there():
    text = "FROM scratch\nCOPY tool /opt/bin/tool\nENTRYPOINT [\"/opt/bin/tool\"]\n"
    r = recipe.read_primary(text, ("tool",), "/opt/bin/")
    assert [(s.kind, s.value, s.files) for s in r.layers] == [("COPY", "opt/bin", ("tool",))]
    assert recipe.read_primary(text.replace("/opt/bin/tool ", "/opt/bin/ "), ("tool",), "/opt/bin/") is not None
    assert recipe.read_primary(text, ("tool",), "/") is None  # not where the payload says


@pytest.mark.parametrize("change", [
    ("COPY uv uvx /", "COPY uv /"),  # not every payload file
    ("COPY uv uvx /", "COPY uv uvx uv /"),  # one file twice
    ("COPY uv uvx /", "COPY uv uvx /\nCOPY uv /uv"),
    ("COPY uv uvx /", "COPY uv /uvx\nCOPY uvx /uv"),  # renamed
    ("COPY uv uvx /", "COPY uv uvx /uv"),  # several files need a folder ending in /
    ("COPY uv uvx /", "COPY uv uvx /tool/"),
    ("COPY uv uvx /", "COPY uv uvx other /"),  # not a payload file
    ("COPY uv uvx /", "COPY --from=alpine uv uvx /"),
    ("COPY uv uvx /", "COPY uv uvx /opt/"),  # not where the payload says the primary holds them
    ("COPY uv uvx /", "COPY --chmod=644 uv uvx /"),
    ("WORKDIR /io", "WORKDIR /io/deeper"),  # would make its parents too
    ("WORKDIR /io", "WORKDIR /io\nWORKDIR /io2"),
    ("WORKDIR /io", "RUN [\"/uv\", \"--version\"]"),
    ("FROM scratch", "FROM alpine:3.20"),
])
def test_a_primary_doing_anything_else_is_left_to_buildkit(change):
    assert recipe.read_primary(PRIMARY, ("uv", "uvx"), "/") is not None
    assert recipe.read_primary(PRIMARY.replace(*change), ("uv", "uvx"), "/") is None


ON_A_BASE = """\
# The primary on its base
ARG BASE_IMAGE=debian:trixie-slim
FROM ${BASE_IMAGE}
COPY tool other /usr/local/bin/
ENTRYPOINT []
CMD ["/usr/local/bin/tool"]
"""


def test_a_primary_on_a_base_is_a_recipe_on_that_base():
    r = recipe.read_primary(ON_A_BASE, ("tool", "other"), "/usr/local/bin/")
    assert r is not None and r.base == parse("debian:trixie-slim")
    assert [(s.kind, s.value, s.files) for s in r.layers] == [("COPY", "usr/local/bin", ("tool", "other"))]
    assert recipe.read_primary(ON_A_BASE.replace("${BASE_IMAGE}", "debian:trixie-slim"), ("tool", "other"), "/usr/local/bin/").base \
        == r.base
    base = {**BASE, "config": {"Env": ["PATH=/usr/bin"], "Cmd": ["bash"]}}
    config = json.loads(recipe.config(json.dumps(base).encode(), r, ["sha256:" + "c" * 64], {}, None, "debian:trixie-slim"))
    assert config["config"] == {"Env": ["PATH=/usr/bin"], "Entrypoint": None, "Cmd": ["/usr/local/bin/tool"]}
    assert config["rootfs"]["diff_ids"][-1] == "sha256:" + "c" * 64


@pytest.mark.parametrize("change", [
    ("ARG BASE_IMAGE=debian:trixie-slim", "ARG BASE_IMAGE"),  # a base the Dockerfile does not name
    ("${BASE_IMAGE}", "${OTHER}"),
    ("ENTRYPOINT []", "WORKDIR /io"),  # a WORKDIR on a base may be there already: BuildKit's to make
    ("ENTRYPOINT []", "RUN [\"true\"]"),
    ("FROM ${BASE_IMAGE}", "FROM ${BASE_IMAGE} AS base\nFROM base"),
    ("COPY tool other /usr/local/bin/", "COPY tool other /opt/"),
])
def test_a_primary_on_a_base_doing_anything_else_is_left_to_buildkit(change):
    assert recipe.read_primary(ON_A_BASE.replace(*change), ("tool", "other"), "/usr/local/bin/") is None
