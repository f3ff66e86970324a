"""``clickloop personalization evaluate FILE [--json] [--model M]`` (see :mod:`.evaluate`).

Exit codes: 0 figures printed, 2 the file cannot be read or the model is unknown. Unusable lines
do not fail the run: they are counted and listed with their line numbers.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import zlib

import orjson

from personalization.evaluate import MODELS, evaluate_file, render
from tracker.settings import Settings


def run_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    model = args.model or settings.personalization.intent_model
    if model not in MODELS:
        print(f"clickloop personalization evaluate: --model {model!r}: choose one of "
              f"{', '.join(sorted(MODELS))}", file=sys.stderr)
        return 2
    try:
        result = evaluate_file(args.file, gap_s=settings.spark.session_gap_minutes * 60.0,
                               model=model)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        print(f"clickloop personalization evaluate: {args.file}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(render(result))
    return 0
