"""The demo: a small shop that embeds Clickloop the way a customer would, and a traffic simulator
that sends realistic, seeded visitor behaviour through the real collector, with ground truth.

- :mod:`.catalogue`: products, categories, URLs and pricing shared by the shop and the simulator;
- :mod:`.shop`: the Flask shop (``create_app``);
- :mod:`.simulator`: the visitor model, pure (seed → requests + :mod:`.truth`);
- :mod:`.variants`: conversion probabilities per content variant, the truth a bandit learns;
- :mod:`.traffic`: sends the simulator's requests over HTTP as browsers and the shop would.
"""
