"""Personalization: learn online who is about to buy, decide what each visitor sees, prove it.

The loop in this package, and where each part lives:

- :mod:`.observation` reads one contract event from Kafka into what the worker needs;
- :mod:`.profile` (state) and :mod:`.transitions` (pure updates) keep a visitor's profile:
  the current session, the history, the cart, the experiment exposure;
- :mod:`.features` turns a profile into model features, :mod:`.intent` learns the purchase
  probability online with River from *delayed* labels, :mod:`.progressive` scores it;
- :mod:`.segments` names the CRM segment, :mod:`.recommend` keeps the item-to-item graph;
- :mod:`.engine` ties those together without any I/O; :mod:`.worker` feeds it from a Kafka
  consumer group and checkpoints it into a store (:mod:`.stores`: embedded SQLite or Redis);
- :mod:`.rules` (a marketer's YAML), :mod:`.holdout` and :mod:`.decision` choose the content
  of a slot; :mod:`.api` serves it (Flask under gunicorn); :mod:`.uplift` measures it.

See ``docs/personalization.md``.
"""
