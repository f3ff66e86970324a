"""Where accepted and rejected events go: a tiny interface the HTTP layer talks to.

Following Snowplow's collector sink, the request handlers only know :class:`Sink` -- store a
list of keyed records, say whether you are healthy, flush on close. Implementations:

- :class:`KafkaSink` (:mod:`.kafka`): librdkafka (confluent-kafka) producer, waits for
  ``acks=all``;
- :class:`Spool` (:mod:`.spool`): fsync'd local segment files shared by all workers, in
  acceptance order, with a size cap;
- :class:`SpoolingSink` (:mod:`.spooling`): Kafka first, the spool (for every worker) once Kafka
  cannot take a batch in time, and a replayer that drains the spool in order once Kafka is
  back;
- :class:`MemorySink` (:mod:`.memory`): in-memory, for unit tests of the HTTP layer.
"""

from collector.sinks.base import Record, Sink, SinkError, SinkFull, SinkUnavailable
from collector.sinks.kafka import KafkaSink
from collector.sinks.memory import MemorySink
from collector.sinks.spool import Spool
from collector.sinks.spooling import SpoolingSink

__all__ = [
    "KafkaSink",
    "MemorySink",
    "Record",
    "Sink",
    "SinkError",
    "SinkFull",
    "SinkUnavailable",
    "Spool",
    "SpoolingSink",
]
