"""Clickloop's base package: the event contract every component speaks, the settings object every
component is handed, the Python tracker client for site backends, and the ``clickloop`` CLI.

Everything else (collector, stream jobs, personalization, DAGs) depends on this package and never
the other way round, so the contract stays the single source of truth.
"""

__version__ = "0.1.0"
