"""The snippet's build and its node unit tests, run from pytest (see js_snippet/test/)."""

from __future__ import annotations

import gzip

from tests.js_snippet.node import BUDGET, DIST, build, run


def test_build_emits_the_script_within_the_size_budget() -> None:
    minified, gzipped = build()
    code = DIST.read_bytes()
    assert len(code) == minified
    assert len(gzip.compress(code, compresslevel=9)) <= BUDGET
    assert gzipped <= BUDGET


def test_node_unit_tests_pass() -> None:
    result = run("npm", "test")
    summary = [line for line in result.stdout.splitlines() if line.startswith("# ")]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in summary, summary
