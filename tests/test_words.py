"""Counts in plain words: "1 repository", "2 repositories", in every line publisher prints."""

from __future__ import annotations

from collections import Counter

import pytest

from publisher.words import counted, plural


@pytest.mark.parametrize(("n", "noun", "said"), [
    (0, "tag", "0 tags"), (1, "tag", "1 tag"), (2, "tag", "2 tags"),
    (1, "repository", "1 repository"), (2, "repository", "2 repositories"), (3, "key", "3 keys"),
    (1, "image", "1 image"), (44, "image", "44 images"), (2, "match", "2 matches"),
])
def test_plural(n, noun, said):
    assert plural(n, noun) == said


@pytest.mark.parametrize(("n", "phrase", "said"), [
    (1, "blobs uploaded", "1 blob uploaded"), (2, "blobs uploaded", "2 blobs uploaded"),
    (1, "smoke tests run", "1 smoke test run"), (1, "tags held back", "1 tag held back"),
    (1, "registry calls that succeeded on a retry", "1 registry call that succeeded on a retry"),
    (1, "signatures already there", "1 signature already there"), (1, "repositories", "1 repository"),
])
def test_counted_phrases(n, phrase, said):
    assert counted(n, phrase) == said


def test_one_repository_one_tag_moved_in_the_plan_and_the_summary(cli, tmp_path):
    from publisher.report import summary
    from tests.test_publish import reduced_matrix

    matrix = reduced_matrix(tmp_path, cli)
    out = cli("publish", "--dry-run", "--offline", "--version", "0.5.31", "--matrix", matrix,
              "--repository", "127.0.0.1:5000/uv", "--only", "distroless").out
    assert "\n1 variant, 2 images, 3 tags per repository, 3 tags in 1 repository.\n" in out
    assert "selected 1 of 3 variants" in out

    class Plan:
        left_out = ()
        release = type("Release", (), {"text": "0.5.31"})

    counts = Counter({"tags moved": 1, "tags verified": 3, "blobs uploaded": 1, "smoke tests run": 1})
    assert summary(Plan, counts) == "0.5.31: published; 1 blob uploaded, 1 smoke test run, 1 tag moved, 3 tags verified."
