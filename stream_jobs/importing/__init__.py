"""Importing the shop's own history into the lake: past orders (CSV), contract events (JSON lines).

Imported records keep their own timestamps (no collector skew correction), land in their own
``ingest=import-<hash>`` partitions (the lake's mark of where a record came from), carry
deterministic event ids (importing a file twice changes nothing) and leave every bad row in a
rejects file with its line number and reason. ``clickloop import orders|events FILE``.
"""
