"""The one simulation of shop visitors and their outcomes, shared by the demo, the intent-model
bench and the bandit exam.

Pure and seeded: a seed and a config give the same visitors, requests and ground truth every
time; nothing here does I/O (the demo's :mod:`demo.traffic` sends the requests over HTTP).

- :mod:`.catalogue`: products, categories, URLs and pricing (the demo shop sells the same);
- :mod:`.devices`, :mod:`.sources`: who visits, from which device and traffic source;
- :mod:`.variants`: conversion probabilities per content variant, the truth a bandit learns;
- :mod:`.simulator`: the visitor model (seed → requests + ground truth);
- :mod:`.truth`: the ground truth reports and tests are compared with.
"""
