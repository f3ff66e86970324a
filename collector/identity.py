"""Who the visitor is, and whether we may remember them.

- A browser's visitor id is the ``cl_vid`` cookie the collector sets (first-party, HttpOnly,
  ``SameSite=Lax``, ``Secure`` over https, renewed on every hit, at most 13 months). It is
  authoritative: it replaces any ``visitor_id`` a browser event carries.
- Consent is *denied* when any event of the request says ``consent: "denied"``, when the
  request sends ``DNT: 1`` or ``Sec-GPC: 1`` (each configurable), or when the collector runs
  with ``cookieless=always``. Then no cookie is set (an existing one is expired), ``user_id``
  and ``session_id`` are dropped (a client session id lives in the browser's storage, so it is
  an identifier too) and a browser's ``visitor_id`` becomes a *cookieless id*: a keyed hash of
  site, anonymised IP and user agent under a salt that changes every UTC day and is forgotten
  the next, so a visitor can be counted within a day but never followed across days. A site
  backend's events under denied consent lose ``visitor_id`` as well (we have no visitor IP to
  hash). ``identify`` events are refused: linking a person is exactly what was declined.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from tracker.contract.ids import is_valid_id

MAX_COOKIE_DAYS = 395  # 13 months: the CNIL/ePrivacy ceiling for audience-measurement cookies


def new_visitor_id() -> str:
    """A fresh random visitor id (128 bits, hex)."""
    return secrets.token_hex(16)


def valid_visitor_id(value: str | None) -> str | None:
    """``value`` if it can be a visitor id (a cookie we set), else None."""
    if is_valid_id(value):
        return value
    return None


def cookie_max_age(days: int) -> int:
    """Cookie lifetime in seconds, capped at 13 months whatever is configured."""
    return max(0, min(days, MAX_COOKIE_DAYS)) * 86_400


def denial_reason(headers: Mapping[str, str], events: Iterable[Any], *, honour_dnt: bool,
                  honour_gpc: bool, cookieless: str) -> str | None:
    """Why this request must be handled without identifiers, or None if it need not be.

    >>> denial_reason({"DNT": "1"}, [], honour_dnt=True, honour_gpc=True, cookieless="consent")
    'dnt'
    """
    if cookieless == "always":
        return "cookieless"
    if honour_dnt and headers.get("DNT", "").strip() == "1":
        return "dnt"
    if honour_gpc and headers.get("Sec-GPC", "").strip() == "1":
        return "gpc"
    if any(isinstance(e, dict) and e.get("consent") == "denied" for e in events):
        return "consent"
    return None


def cookieless_visitor_id(salt: bytes, site: str | None, ip_anon: str | None,
                          user_agent: str | None) -> str:
    """The day's pseudonymous visitor id: HMAC-SHA256(salt, site | anonymised IP | UA).

    >>> cookieless_visitor_id(b"k" * 32, "shop.example.com", "81.2.69.0", "UA")[:5]
    'anon-'
    """
    message = "\n".join((site or "", ip_anon or "", user_agent or "")).encode("utf-8",
                                                                             "replace")
    return "anon-" + hmac.new(salt, message, hashlib.sha256).hexdigest()[:32]


class DailySalt:
    """A random salt per UTC day, shared by the workers through ``directory``, gone next day.

    The first worker to need a day's salt writes it (atomically: write a temporary file, then
    ``link`` it into place, which fails if another worker won); the others read it. Salts of
    earlier days are deleted as soon as a new day's salt exists, so yesterday's cookieless ids
    can no longer be recomputed.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._day: date | None = None
        self._salt = b""

    def for_day(self, day: date) -> bytes:
        with self._lock:
            if day != self._day:
                self._salt = self._load_or_create(day)
                self._day = day
            return self._salt

    def _load_or_create(self, day: date) -> bytes:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.directory / f"{day.isoformat()}.salt"
        if not path.exists():
            temporary = self.directory / f".{day.isoformat()}.{os.getpid()}.{secrets.token_hex(4)}"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, secrets.token_bytes(32))
                os.fsync(fd)
            finally:
                os.close(fd)
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
            temporary.unlink()
        salt = path.read_bytes()
        for old in self.directory.glob("*.salt"):
            if old.name < path.name:
                old.unlink(missing_ok=True)
        return salt
