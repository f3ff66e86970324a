"""The reports flow: marketer reports (traffic, funnels, paths, campaigns, customer value, and
registered extras) for a date range of the lake.

A report is a module with ``NAME``, ``TITLE`` and ``build(inputs) -> Report`` (:mod:`.model`):
pure Spark aggregations over the report inputs (events with their sessions, and sessions, for a
date range): :mod:`.traffic`, :mod:`.funnels` (steps from :mod:`.funnel_spec`), :mod:`.paths`,
:mod:`.campaigns`, :mod:`.customers`, with the shared measures of :mod:`.measures`.
:mod:`.output` turns a Report into Parquet + CSV per table and one self-contained HTML page
(charts from :mod:`.svg`) whose numbers are the CSV's own text. :mod:`.registry` lists the
reports; another package adds one by adding a line there.

:mod:`.job` is the batch job (``python -m stream_jobs.reports.job``); :mod:`.command` is
``clickloop report``.
"""
