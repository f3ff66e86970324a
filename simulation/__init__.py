"""The one simulation of shop visitors and their outcomes, shared by the demo, the intent-model
bench and the bandit exam.

Pure and seeded: a seed and a config give the same visitors, requests and ground truth every
time; nothing here does I/O (the demo's :mod:`demo.traffic` sends the requests over HTTP). It
sits above :mod:`personalization` (the bandit exam drives the real decision code) and below
:mod:`demo`; :mod:`personalization` never imports it.

What a visitor is and does, defined once:

- :mod:`.catalogue`: products, categories, URLs and pricing (the demo shop sells the same);
- :mod:`.devices`, :mod:`.sources`: who visits, from which device and traffic source;
- :mod:`.visitors`: the visitor draw and a visit's latent purchase intent;
- :mod:`.variants`: conversion probabilities per content variant, the truth a bandit learns
  (the demo's hero banner and the bandit exam's offer).

The demo's browser-faithful simulator (seed → requests + ground truth):

- :mod:`.simulator`: the entry point (:class:`~.simulator.Simulation`, :func:`~.simulator.simulate`)
  and the scheduler interleaving the visitors by time;
- :mod:`.config`: :class:`~.config.SimConfig` and the session constants;
- :mod:`.records`: Visitor, Visit, Request, DecisionRequest, Decision (what crosses to the
  truth and to :mod:`demo.traffic`);
- :mod:`.arrivals`: when new visitors arrive;
- :mod:`.agent`: one visitor's life, visit after visit, built from
  :mod:`.browser` (state, events, URLs), :mod:`.cart` (cart and orders),
  :mod:`.decisions` (asking the decision API, outcomes fixed by a variant),
  :mod:`.navigation` (where a visitor goes next) and :mod:`.pages` (what a page sends);
- :mod:`.transport`: how clickloop.js batches a page's events into requests;
- :mod:`.truth`: the ground truth reports and tests are compared with.

Lighter streams for benches and tests, on the same visitor and variant models:

- :mod:`.intent_stream`: enriched events with a known purchase structure (the intent model);
- :mod:`.bandit_exam`: a shop whose ``offer`` slot is decided by the real decision code, with
  known conversion rates (the bandit's regret).
"""
