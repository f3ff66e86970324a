"""Kafka record headers on the events topic: what a record says *beside* its event.

The event JSON is the contract's and its ``enrichment`` block the collector's; neither can say
"this is history, imported today" without a browser or a site backend being able to say it too
(``properties`` are the client's). A record header can: only producers Clickloop runs write the
events topic, the collector never sets this one, and ``clickloop import`` always does. So:

- ``clickloop-import: import-<hash>`` marks a record as an imported past event (the value is
  the import's ``ingest`` name, as in the lake's ``ingest=import-<hash>`` partitions).
  The Spark stream job skips such records (the import wrote them to the lake itself) and the
  personalization worker applies them to profile history only (docs/personalization.md,
  "Imported history").

Both sides read the name from here because they may not import each other (both are layer 2).
"""

from __future__ import annotations

from collections.abc import Iterable

IMPORT_HEADER = "clickloop-import"


def import_ingest(headers: Iterable[tuple[str, bytes | None]] | None) -> str | None:
    """The import a record comes from (its ``clickloop-import`` header); None for a live event.

    >>> import_ingest([("clickloop-import", b"import-0123456789ab")])
    'import-0123456789ab'
    >>> import_ingest([]) is None, import_ingest(None) is None
    (True, True)
    """
    for key, value in headers or ():
        if key == IMPORT_HEADER:
            return value.decode("utf-8", "replace") if value else ""
    return None
