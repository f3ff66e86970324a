"""Marketer reports: traffic, funnels, paths, campaigns, customer value (and registered extras).

A report is a module with ``NAME``, ``TITLE`` and ``build(inputs) -> Report`` (:mod:`.model`):
pure Spark aggregations over the report inputs (events with their sessions, and sessions, for a
date range). :mod:`.output` turns a Report into Parquet + CSV per table and one self-contained
HTML page whose numbers are the CSV's own text. :mod:`.registry` lists the reports; another
package adds one by adding a line there.
"""
