"""``clickloop forget --visitor ID | --user ID``: erase a person (see :mod:`personalization.erase`).

Deletes their profiles, links, decisions and per-person worker state from the configured store
(embedded or Redis), writes a suppression entry that the next batch run applies to the lake and
sessions, and an audit entry (when and what, not who). Prints what was removed.

Exit codes: 0 done, 1 the store could not be used (nothing was recorded; run it again),
2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from tracker.erasure import Kind
from tracker.settings import Settings

MAX_ID = 128  # the contract's user_id length; visitor ids are shorter


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--visitor ID`` or ``--user ID``, exactly one."""
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--visitor", metavar="ID", help="a visitor id (the cl_vid cookie)")
    who.add_argument("--user", metavar="ID", help="a user id, as sent by identify")


def run(args: argparse.Namespace, settings: Settings) -> int:
    kind: Kind = "visitor" if args.visitor is not None else "user"
    identifier = args.visitor if args.visitor is not None else args.user
    problem = check_identifier(kind, identifier)
    if problem:
        print(f"clickloop forget: --{kind}: {problem}", file=sys.stderr)
        return 2
    from personalization.erase import erase
    from personalization.stores import STORE_ERRORS, open_store

    try:
        store = open_store(settings)
        try:
            forgotten = erase(store, settings.state_dir, kind, identifier, now=time.time(),
                              origin="cli")
        finally:
            store.close()
    except STORE_ERRORS as exc:
        print(f"clickloop forget: the store is unusable, nothing was forgotten: {exc}",
              file=sys.stderr)
        return 1
    removed = forgotten.as_dict()
    removed.pop("profile_id")
    print(json.dumps({"forgotten": kind, "removed": removed,
                      "suppression_list": str(settings.state_dir / "privacy")}))
    return 0


def check_identifier(kind: Kind, identifier: str) -> str | None:
    """Why ``identifier`` cannot be a visitor or user id, or None.

    >>> check_identifier("visitor", "has space")
    'at most 64 characters, letters, digits and _ . : - only'
    >>> check_identifier("user", "ann@example.com") is None
    True
    """
    from tracker.contract.ids import is_valid_id
    from tracker.contract.spec import ID_HINT

    if kind == "visitor":
        if not is_valid_id(identifier):
            return f"at most 64 characters, {ID_HINT}"
        return None
    if not identifier.strip() or len(identifier) > MAX_ID:
        return f"1 to {MAX_ID} characters"
    return None
