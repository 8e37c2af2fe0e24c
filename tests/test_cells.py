"""Cells of expand (exclude, overrides) and variants left out for want of credentials: pure, no engine."""

from __future__ import annotations

import shutil
from dataclasses import replace

from publisher.release.gate import without_credentials
from publisher.release.plan import make_plan
from publisher.release.version import parse_release
from publisher import render
from publisher.matrix.schema import load_matrix
from tests.conftest import ROOT

ENTRY = """\
  - expand:
      flavor:
        - {from: trixie, tag: trixie}
        - {from: slim-trixie, tag: trixie-slim}
      python: ["3.14", "3.9"]
    base: "python:{python}-{flavor.from}"
    family: debian
    tags: ["python{python}-{flavor.tag}"]
"""


def matrix_with(tmp_path, cells: str):
    shipped = (ROOT / "matrix.yaml").read_text().split("\nvariants:\n")[0]
    (tmp_path / "matrix.yaml").write_text(shipped + "\nvariants:\n" + ENTRY + cells)
    (tmp_path / "variants").mkdir()
    shutil.copy(ROOT / "variants" / "Dockerfile.j2", tmp_path / "variants")
    return load_matrix(tmp_path / "matrix.yaml")


def test_exclude_by_a_field_of_a_mapping_axis_and_override_by_a_plain_axis(tmp_path):
    matrix = matrix_with(tmp_path, """\
    exclude:
      - {python: "3.9", flavor.tag: trixie-slim}
    overrides:
      - when: {python: "3.9"}
        base: "python:{python}-bookworm"
        platforms: [linux/amd64]
""")
    derived = {v.name: (str(v.base), tuple(map(str, v.platforms))) for v in matrix.variants[1:]}
    assert derived == {
        "python3.14-trixie": ("python:3.14-trixie", ("linux/amd64", "linux/arm64")),
        "python3.14-trixie-slim": ("python:3.14-slim-trixie", ("linux/amd64", "linux/arm64")),
        "python3.9-trixie": ("python:3.9-bookworm", ("linux/amd64",)),
    }


def test_left_out_only_without_credentials(tmp_path):
    matrix = matrix_with(tmp_path, "  - base: dhi.io/python:3.14\n    family: debian\n    tags: [python3.14-dhi]\n    needs: credentials\n")
    plan = make_plan(matrix, parse_release("0.9.5"), {}, render.render_all(matrix))
    asked = []

    def has(host: str) -> bool:
        asked.append(host)
        return host == "dhi.io" and with_login

    with_login = False
    without = without_credentials(plan, has, lambda host: f"AUTH_{host}")
    assert [v.variant.name for v in without.variants] == [v.variant.name for v in plan.variants][:-1]
    assert [x.line() for x in without.left_out] == [
        "left out: python3.14-dhi (dhi.io/python:3.14): its base needs a login to dhi.io and there are no credentials for it; set AUTH_dhi.io or run docker login dhi.io"]
    assert without.to_json()["left_out"][0]["name"] == "python3.14-dhi"
    with_login = True
    assert without_credentials(plan, has, str).variants == plan.variants
    assert asked == ["dhi.io", "dhi.io"]  # only the base that declares it is looked up
    assert "left_out" not in replace(plan, left_out=()).to_json()
