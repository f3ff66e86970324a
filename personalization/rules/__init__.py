"""Content rules a marketer writes in YAML: which variant of each slot a visitor sees.

- :mod:`.model`: slots, variants, conditions and how one is chosen;
- :mod:`.parse`: the YAML file, validated with the line and reason of every problem;
- :mod:`.source`: the file as served, reloaded on change without a restart;
- ``default_rules.yaml``: the packaged example (the demo shop's ``hero`` and ``recommended``).
"""

from personalization.rules.model import Context, Rules, Slot, Variant
from personalization.rules.parse import Problem, RulesError, load_rules, parse_rules
from personalization.rules.source import DEFAULT_RULES_FILE, RulesSource

__all__ = [
    "DEFAULT_RULES_FILE",
    "Context",
    "Problem",
    "Rules",
    "RulesError",
    "RulesSource",
    "Slot",
    "Variant",
    "load_rules",
    "parse_rules",
]
