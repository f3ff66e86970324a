"""The Apache family's line patterns are written to fail fast (a look-ahead before the optional
virtual host, possessive fields); they must match exactly what their plain forms match, with
the same groups. The plain forms below are the patterns as first written (backtracking freely).
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from stream_jobs.logs.formats import TEXT_FORMATS

SHARED_LOGS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "logs"

_QUOTED = r'"((?:[^"\\]++|\\.)*+)"'
_VHOST = r"(\S+?)(?::(\d+))? "
_COMMON = r'(\S+) (\S+) (\S+) \[([^\]]+)\] ' + _QUOTED + r' (\d{3}) (\d+|-)'
_COMBINED = _COMMON + r' ' + _QUOTED + r' ' + _QUOTED
PLAIN = {
    "combined": r"^(?:" + _VHOST + r")?" + _COMBINED + r"(?: .*)?" + r"\s*$",
    "common": r"^(?:" + _VHOST + r")?" + _COMMON + r"\s*$",
}

token = st.text(alphabet="ab1.:-[]\"\\ 0", min_size=0, max_size=6)
field = st.sampled_from(["1.2.3.4", "-", "www.example.com:8080", "h:x", "[x", "a]", "2001:db8::1",
                         "bob", ""]) | token


@st.composite
def lines(draw: st.DrawFn) -> str:
    """Lines near the format: 3 or 4 fields before the time, odd characters, cut short."""
    head = [draw(field) for _ in range(draw(st.integers(2, 5)))]
    time = draw(st.sampled_from(["[10/Oct/2000:13:55:36 -0700]", "[]", "[a b]", "[x", "x]"]))
    request = draw(st.sampled_from(['"GET / HTTP/1.1"', '"a \\" b"', '""', '"x', "GET"]))
    tail = draw(st.sampled_from(["200 5", "200 -", "2000 1", "404 12 \"-\" \"Mozilla/5.0\"",
                                 "200 1 \"r\" \"u\" 123", "200 1 \"r\" \"u\"  ", "200 1 \"r\""]))
    line = " ".join([*head, time, request, tail])
    return line[:draw(st.integers(0, len(line)))] if draw(st.booleans()) else line


def _groups(pattern: re.Pattern[str], line: str) -> tuple[str | None, ...] | None:
    match = pattern.match(line)
    return match.groups() if match else None


@hyp_settings(max_examples=3000, deadline=None)
@given(lines())
def test_the_fast_patterns_match_as_the_plain_ones_do(line):
    for name, plain in PLAIN.items():
        fast = re.compile(TEXT_FORMATS[name].pattern)
        assert _groups(fast, line) == _groups(re.compile(plain), line), (name, line)


def test_the_fast_patterns_match_every_real_sample_line_as_the_plain_ones_do():
    files = [p for p in SHARED_LOGS.rglob("*.log") if p.is_file()]
    assert files, f"no sample logs under {SHARED_LOGS}"
    lines_seen = matched = 0
    for path in files:
        for line in path.read_bytes().decode("latin-1").splitlines():
            lines_seen += 1
            for name, plain in PLAIN.items():
                expected = _groups(re.compile(plain), line)
                matched += expected is not None
                assert _groups(re.compile(TEXT_FORMATS[name].pattern), line) == expected
    assert lines_seen > 10_000 and matched > 10_000
