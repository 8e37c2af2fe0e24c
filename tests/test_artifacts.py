"""Payload files: wheel RECORD checks, extraction, the --artifacts layout, running `<file> --version`."""

from __future__ import annotations

import base64
import hashlib
import stat
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from publisher.local.artifacts import check_runs, fetch_wheels, from_directory
from publisher.errors import PublisherError
from publisher.image.platform import parse_platform
from publisher.matrix.schema import load_matrix
from publisher.matrix.payload import Payload, Wheels
from tests.conftest import ROOT

PAYLOAD = load_matrix(ROOT / "matrix.yaml").payload  # the shipped one: uv and uvx from uv's wheels
AMD64, ARM64 = parse_platform("linux/amd64"), parse_platform("linux/arm64")

FAKE_UV = b'#!/bin/sh\necho "uv 9.9.9 (fake)"\n'
FAKE_UVX = b'#!/bin/sh\necho "uv-tool-uvx 9.9.9"\n'
AMD64_WHEEL = "uv-9.9.9-py3-none-musllinux_1_1_x86_64.whl"
ARM64_WHEEL = "uv-9.9.9-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl"


def record_line(path: str, content: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(content)}"


def make_wheel(folder: Path, name: str = AMD64_WHEEL, tamper: str = "", unlisted: str = "") -> Path:
    """A tiny uv wheel; `tamper` names a binary whose content differs from its RECORD line,
    `unlisted` one that RECORD leaves out."""
    files = {"uv-9.9.9.data/scripts/uv": FAKE_UV, "uv-9.9.9.data/scripts/uvx": FAKE_UVX}
    listed = {path: content for path, content in files.items() if not path.endswith("/" + unlisted)}
    record = [record_line(path, content) for path, content in listed.items()]
    record.append("uv-9.9.9.dist-info/RECORD,,")
    if tamper:
        files[f"uv-9.9.9.data/scripts/{tamper}"] = b"#!/bin/sh\necho evil\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / name
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, content in files.items():
            archive.writestr(path, content)
        archive.writestr("uv-9.9.9.dist-info/RECORD", "\n".join(record) + "\n")
    return wheel


def cached(cache: Path, tag: str = "musllinux_1_1_x86_64", **kwargs) -> Path:
    return make_wheel(cache / "wheels" / tag, **kwargs)


def fake_binaries(folder: Path, output: bytes = FAKE_UV, mode: int = 0o755) -> Path:
    folder.mkdir(parents=True)
    for name in ("uv", "uvx"):
        (folder / name).write_bytes(output)
        (folder / name).chmod(mode)
    return folder


def test_cached_wheel_is_verified_and_extracted_without_pip(tmp_path):
    cached(tmp_path)
    cached(tmp_path, "musllinux_1_1_aarch64", name=ARM64_WHEEL)
    binaries = fetch_wheels(PAYLOAD, "9.9.9", [AMD64, ARM64], tmp_path, python="/nonexistent")
    assert binaries == {
        AMD64: tmp_path / "binaries/uv/9.9.9/linux-amd64",
        ARM64: tmp_path / "binaries/uv/9.9.9/linux-arm64",
    }
    for folder in binaries.values():
        assert (folder / "uv").read_bytes() == FAKE_UV
        assert (folder / "uvx").read_bytes() == FAKE_UVX
        assert sorted(p.name for p in folder.iterdir()) == ["uv", "uvx"]
        for name in ("uv", "uvx"):
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o755
    check_runs(binaries, "9.9.9", PAYLOAD)


def test_tampered_binary_is_refused(tmp_path):
    cached(tmp_path, tamper="uvx")
    with pytest.raises(PublisherError) as caught:
        fetch_wheels(PAYLOAD, "9.9.9", [AMD64], tmp_path, python="/nonexistent")
    assert caught.value.lines == [f"{AMD64_WHEEL}: uv-9.9.9.data/scripts/uvx does not match its RECORD hash and size"]


def test_binary_missing_from_record_is_refused(tmp_path):
    cached(tmp_path, unlisted="uv")
    with pytest.raises(PublisherError) as caught:
        fetch_wheels(PAYLOAD, "9.9.9", [AMD64], tmp_path, python="/nonexistent")
    assert caught.value.lines == [f"{AMD64_WHEEL}: uv-9.9.9.data/scripts/uv is not listed in the wheel's RECORD"]


def test_wheel_of_another_version_is_not_reused(tmp_path):
    cached(tmp_path)
    with pytest.raises(PublisherError) as caught:
        fetch_wheels(PAYLOAD, "9.9.10", [AMD64], tmp_path, python="/nonexistent")
    assert caught.value.lines == [
        "cannot download uv 9.9.10 for linux/amd64 (musllinux_1_1_x86_64): cannot run /nonexistent: No such file or directory"
    ]


def test_pip_failure_is_one_line_with_pips_error(tmp_path):
    fake_python = tmp_path / "python"
    fake_python.write_text(
        "#!/bin/sh\n"
        "echo 'Collecting uv==9.9.9'\n"
        "echo 'ERROR: No matching distribution found for uv==9.9.9' >&2\n"
        "echo '[notice] A new release of pip is available' >&2\n"
        "exit 1\n"
    )
    fake_python.chmod(0o755)
    with pytest.raises(PublisherError) as caught:
        fetch_wheels(PAYLOAD, "9.9.9", [ARM64], tmp_path / "cache", python=str(fake_python))
    assert caught.value.lines == [
        "cannot download uv 9.9.9 for linux/arm64 (musllinux_1_1_aarch64): ERROR: No matching distribution found for uv==9.9.9"
    ]


def test_unknown_platform_lists_known_ones(tmp_path):
    with pytest.raises(PublisherError) as caught:
        fetch_wheels(PAYLOAD, "9.9.9", [AMD64, parse_platform("linux/s390x")], tmp_path, python="/nonexistent")
    assert caught.value.lines == ["no uv wheel for platform linux/s390x: payload.wheels.platforms knows linux/amd64, linux/arm64; add its wheel platform tag"]


def test_from_directory(tmp_path):
    fake_binaries(tmp_path / "linux-amd64")
    fake_binaries(tmp_path / "linux-arm64")
    assert from_directory(tmp_path, [AMD64, ARM64], PAYLOAD.files) == {
        AMD64: tmp_path / "linux-amd64",
        ARM64: tmp_path / "linux-arm64",
    }


def test_from_directory_missing_folder(tmp_path):
    fake_binaries(tmp_path / "linux-amd64")
    with pytest.raises(PublisherError) as caught:
        from_directory(tmp_path, [AMD64, ARM64], PAYLOAD.files)
    assert caught.value.lines == [f"--artifacts: no folder for linux/arm64: expected {tmp_path}/linux-arm64"]


def test_from_directory_missing_binary(tmp_path):
    fake_binaries(tmp_path / "linux-arm64")
    (tmp_path / "linux-arm64" / "uvx").unlink()
    with pytest.raises(PublisherError) as caught:
        from_directory(tmp_path, [ARM64], PAYLOAD.files)
    assert caught.value.lines == [f"--artifacts: no uvx for linux/arm64: expected {tmp_path}/linux-arm64/uvx"]


def test_check_runs_wrong_version_names_the_matrix_line_the_pattern_as_written_and_what_was_printed(tmp_path):
    folder = fake_binaries(tmp_path / "linux-amd64")
    with pytest.raises(PublisherError) as caught:
        check_runs({AMD64: folder}, "9.9", PAYLOAD)
    lines = dict(PAYLOAD.lines.files)
    assert caught.value.lines == [
        f"{PAYLOAD.lines.matrix}:{lines[name]}: payload.files.{name}: linux/amd64: `{name} --version` printed "
        f"'uv 9.9.9 (fake)', which does not match \"{PAYLOAD.checks[name]}\" ({{version}}: 9.9)" for name in ("uv", "uvx")
    ]
    assert "\\\\" not in "".join(caught.value.lines)


def test_check_runs_not_executable(tmp_path):
    folder = fake_binaries(tmp_path / "linux-amd64", mode=0o644)
    with pytest.raises(PublisherError) as caught:
        check_runs({AMD64: folder}, "9.9.9", PAYLOAD)
    assert [line.split(": payload.files.")[1] for line in caught.value.lines] == [
        f"{name}: linux/amd64: cannot run {folder}/{name}: Permission denied" for name in ("uv", "uvx")]


def test_check_runs_without_emulation(tmp_path):
    folder = fake_binaries(tmp_path / "linux-arm64", output=b"\x7fELF not really")
    with pytest.raises(PublisherError) as caught:
        check_runs({ARM64: folder}, "9.9.9", PAYLOAD)
    assert [line.split(": ")[2] for line in caught.value.lines] == ["linux/arm64"] * 2
    assert all("install qemu-user-static and binfmt-support" in line for line in caught.value.lines)


def test_real_uv_wheels(tmp_path):
    platforms = [AMD64, ARM64]
    binaries = fetch_wheels(PAYLOAD, "0.5.31", platforms, tmp_path)
    check_runs(binaries, "0.5.31", PAYLOAD)
    assert fetch_wheels(PAYLOAD, "0.5.31", platforms, tmp_path, python="/nonexistent") == binaries


RUFF = Payload(("ruff",), {"ruff": "^ruff {version}$"}, "/", "/usr/local/bin/",
               Wheels("ruff", {ARM64: "musllinux_1_2_aarch64"}, "3.12"))


def test_the_declared_package_platform_tag_and_python_go_to_pip(tmp_path):
    cached(tmp_path / "cache", "musllinux_1_2_aarch64")  # a uv wheel: not ruff's, not reused
    argv = tmp_path / "argv"
    fake_python = tmp_path / "python"
    fake_python.write_text(f"#!/bin/sh\necho \"$@\" >> {argv}\necho 'ERROR: offline' >&2\nexit 1\n")
    fake_python.chmod(0o755)
    with pytest.raises(PublisherError) as caught:
        fetch_wheels(RUFF, "0.14.0", [ARM64], tmp_path / "cache", python=str(fake_python))
    assert caught.value.lines == ["cannot download ruff 0.14.0 for linux/arm64 (musllinux_1_2_aarch64): ERROR: offline"]
    words = argv.read_text().splitlines()[0].split()  # then pip is asked what the index has, and says nothing
    assert words[words.index("--platform") + 1] == "musllinux_1_2_aarch64"
    assert words[words.index("--python-version") + 1] == "3.12"
    assert "ruff==0.14.0" in words and not any(w.startswith("uv") for w in words)


def test_a_payload_without_wheels_needs_artifacts(tmp_path):
    with pytest.raises(PublisherError) as caught:
        fetch_wheels(Payload(("tool",), {}, "/", "/usr/local/bin/"), "1.0.0", [AMD64], tmp_path)
    assert caught.value.lines == ["the matrix's payload declares no wheels: pass --artifacts DIR, or add payload.wheels"]


def test_files_without_a_pattern_are_not_run(tmp_path):
    folder = fake_binaries(tmp_path / "linux-amd64", output=b"#!/bin/sh\nexit 3\n")
    check_runs({AMD64: folder}, "9.9.9", replace(PAYLOAD, checks={}))
    with pytest.raises(PublisherError) as refused:
        check_runs({AMD64: folder}, "9.9.9", replace(PAYLOAD, checks={"uvx": "."}))
    assert refused.value.lines[0].endswith("payload.files.uvx: linux/amd64: `uvx --version` exited with 3: 'nothing'")


def test_a_file_digest_is_read_again_once_the_file_changed(tmp_path):
    from publisher.local.layers import file_digest

    path = tmp_path / "uv"
    path.write_bytes(b"one")
    assert file_digest(path) == "sha256:" + hashlib.sha256(b"one").hexdigest()
    replaced = tmp_path / "uv.new"
    replaced.write_bytes(b"two")
    replaced.rename(path)  # another file at the same path, as a new download lands
    assert file_digest(path) == "sha256:" + hashlib.sha256(b"two").hexdigest()
    with path.open("ab") as file:  # the same file, grown
        file.write(b"!")
    assert file_digest(path) == "sha256:" + hashlib.sha256(b"two!").hexdigest()


def test_every_version_check_runs_and_each_problem_is_said(tmp_path):
    folders = {}
    for platform, text in ((AMD64, "uv 0.5.31"), (ARM64, "uv 0.5.30")):
        folder = folders[platform] = tmp_path / platform.text("-")
        folder.mkdir()
        for name in ("uv", "uvx"):
            (folder / name).write_text(f"#!/bin/sh\necho '{text}'\n")
            (folder / name).chmod(0o755)
    with pytest.raises(PublisherError) as refused:
        check_runs(folders, "0.5.31", replace(PAYLOAD, checks={"uv": "^uv {version}$", "uvx": "^uv {version}$"}))
    said = "\n".join(refused.value.lines)
    assert "linux/arm64" in said and said.count("--version") == 2 and "linux/amd64" not in said
