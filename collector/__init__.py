"""The collector: the HTTP edge every website and site backend talks to.

A Flask app (:func:`collector.app.create_app`) served by gunicorn (``collector/gunicorn.conf.py``,
started by ``clickloop collector``). It sets the first-party visitor cookie, validates each event
against the contract, enriches it (:mod:`enrichment`, shared with the log parser) and
stores it through a small sink interface (:mod:`collector.sinks`): Kafka, with a durable local
spool when Kafka cannot take it. See ``docs/collector.md`` for endpoints, statuses and limits.
"""
