"""Reading the YAML rule lists that ``device-detector`` ships, fast.

``yaml_rs`` (Rust; installed with ``device-detector``, which reads its own lists with it) parses
Matomo's 1.3 MB model list in ~0.1 s where PyYAML's C loader takes ~2 s; PyYAML stays the
fallback should ``device-detector`` stop depending on it.
"""

from __future__ import annotations

from typing import Any


def load_yaml(text: str) -> Any:
    """The YAML document in ``text`` as plain Python values.

    >>> load_yaml("- regex: 'Googlebot'\\n  name: Googlebot\\n")
    [{'regex': 'Googlebot', 'name': 'Googlebot'}]
    """
    try:
        import yaml_rs
    except ImportError:  # pragma: no cover - device-detector brings yaml_rs
        import yaml

        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return yaml_rs.loads(text)
