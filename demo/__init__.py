"""The demo: a small shop that embeds Clickloop the way a customer would, the whole local stack
started on one machine, and simulated traffic sent through the real collector.

- :mod:`.command`: ``clickloop demo``, the README's main command;
- :mod:`.stack`: starts Kafka, collector, personalization, the streaming job and the shop;
- :mod:`.shop`: the Flask shop (``create_app``), :mod:`.shop_command` serves it alone;
- :mod:`.traffic`: sends the :mod:`simulation`'s requests over HTTP as browsers and the shop
  would; :mod:`.simulate_command` is ``clickloop simulate``;
- :mod:`.batch`, :mod:`.progress`, :mod:`.overview`: the batch run, live progress, final summary.
"""
