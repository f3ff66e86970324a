"""Constructors for contract events, used by the Python tracker, the simulator and tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from tracker.contract.spec import SCHEMA_VERSION
from tracker.contract.validate import check_event, format_timestamp


def new_event(event_type: str, *, at: datetime | None = None, **fields: Any) -> dict[str, Any]:
    """A valid contract event: fills schema_version, event_id and client_ts, drops None fields.

    Raises :class:`tracker.contract.validate.ContractViolation` naming each bad field, so a
    backend developer learns of a mistake where it is made rather than in the dead-letter topic.
    """
    event: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "client_ts": format_timestamp(at or datetime.now(UTC)),
    }
    event.update({key: value for key, value in fields.items() if value is not None})
    return check_event(event)
