"""Running the snippet's own toolchain (npm, node) from pytest, so the single test command of the
README also builds the snippet, checks its size budget and runs its unit tests."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

JS_DIR = Path(__file__).resolve().parents[2] / "js_snippet"
DIST = JS_DIR / "dist" / "clickloop.min.js"
BUDGET = 4096  # bytes, min+gzip; the same number as js_snippet/build.mjs
SIZE_LINE = re.compile(r"(\d+) bytes min, (\d+) bytes min\+gzip")


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``args`` in js_snippet/, failing clearly when node or its packages are missing."""
    if shutil.which(args[0]) is None:
        raise RuntimeError(f"{args[0]} is not installed; the snippet needs Node 20+")
    if not (JS_DIR / "node_modules" / "esbuild").exists():
        raise RuntimeError("js_snippet/node_modules is missing: run `npm ci` in js_snippet/")
    return subprocess.run(args, cwd=JS_DIR, capture_output=True, text=True, timeout=timeout,
                          check=False)


def build() -> tuple[int, int]:
    """``npm run build``; returns (minified bytes, min+gzip bytes) as the build printed them."""
    result = run("npm", "run", "build")
    assert result.returncode == 0, result.stdout + result.stderr
    match = SIZE_LINE.search(result.stdout)
    assert match, result.stdout
    return int(match.group(1)), int(match.group(2))
