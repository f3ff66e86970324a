"""The event contract v1: one declaration (:mod:`.spec`) and everything derived from it.

- :func:`validate_event` / :func:`check_event`: the Python validator with per-field messages;
- :func:`decode_batch`: the ``POST /v1/events`` body with its size, length and depth limits;
- :func:`new_event`: build a valid event;
- :mod:`.jsonschema`: the JSON Schema; :mod:`.spark`: the Spark schema and the lake job's checks
  (imports pyspark lazily);
- :mod:`.compiled`: the same contract as msgspec types, the collector's fast path
  (``check_batch``); not imported here, so ``python3 -m tracker`` stays stdlib-only.
"""

from tracker.contract.batch import BatchError, decode_batch, encode_batch, json_depth
from tracker.contract.build import new_event
from tracker.contract.spec import (
    EVENT_TYPES,
    LIMITS,
    REFERRER_CLASSES,
    REQUIRED_BY_TYPE,
    SCHEMA_VERSION,
    Limits,
)
from tracker.contract.validate import (
    ContractError,
    ContractViolation,
    check_event,
    format_timestamp,
    parse_timestamp,
    validate_event,
)

__all__ = [
    "EVENT_TYPES",
    "LIMITS",
    "REFERRER_CLASSES",
    "REQUIRED_BY_TYPE",
    "SCHEMA_VERSION",
    "BatchError",
    "ContractError",
    "ContractViolation",
    "Limits",
    "check_event",
    "decode_batch",
    "encode_batch",
    "format_timestamp",
    "json_depth",
    "new_event",
    "parse_timestamp",
    "validate_event",
]
