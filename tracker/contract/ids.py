"""The one check of an id's shape (visitor, user, session, order, slot ids), from the contract.

Every place that takes an id from outside (a cookie, a URL, a CLI argument, a rules file)
calls :func:`is_valid_id`, so what the collector accepts and what the API, the shop or
``clickloop forget`` accept can never drift apart.
"""

from __future__ import annotations

import re

from tracker.contract.spec import ID_PATTERN

MAX_ID_LENGTH = 64
_ID = re.compile(ID_PATTERN)


def is_valid_id(value: object) -> bool:
    """Whether ``value`` is a string the contract accepts as an id.

    >>> is_valid_id("4f2a9c1e"), is_valid_id("user:42"), is_valid_id("a" * 64)
    (True, True, True)
    >>> is_valid_id(""), is_valid_id("a" * 65), is_valid_id("x@y"), is_valid_id("abc\\n")
    (False, False, False, False)
    >>> is_valid_id(None), is_valid_id(42)
    (False, False)
    """
    return (isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH
            and _ID.fullmatch(value) is not None)
