"""Funnel definitions from YAML, checked with messages that name the funnel, step and key.

```yaml
funnels:
  - name: Checkout
    within: session          # or a number of days: "7d"
    steps:
      - name: Viewed a product
        event_type: product_view
      - name: Added to cart
        event_type: add_to_cart
      - name: Purchased
        event_type: purchase
    breakdowns: [device, country, source, campaign]   # optional; these are the default
```

A step is a predicate on one event; every key given must hold (AND). Keys: ``event_type``
(one or a list), ``path`` (exact page path), ``path_prefix``, ``url_contains``, ``url_regex``,
``event_name`` (a custom event's ``name``), ``sku``, ``referrer_class``, ``utm_campaign``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.contract.spec import EVENT_TYPES, REFERRER_CLASSES

STEP_KEYS = ("event_type", "path", "path_prefix", "url_contains", "url_regex", "event_name",
             "sku", "referrer_class", "utm_campaign")
BREAKDOWNS = ("device", "country", "source", "campaign")
MAX_STEPS = 20
WITHIN_RE = re.compile(r"^(\d{1,3})d$")


class FunnelSpecError(ValueError):
    """A funnel file that cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Step:
    name: str
    conditions: tuple[tuple[str, Any], ...]  # (key, value) pairs, all must hold


@dataclass(frozen=True)
class Funnel:
    name: str
    steps: tuple[Step, ...]
    within_days: int | None  # None: within one session
    breakdowns: tuple[str, ...] = BREAKDOWNS

    @property
    def unit(self) -> str:
        """What conversion is counted over: sessions, or visitors for multi-day funnels."""
        return "sessions" if self.within_days is None else "visitors"


def load_funnels(path: Path) -> list[Funnel]:
    """Read and check a funnels YAML file."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FunnelSpecError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise FunnelSpecError(f"{path}: not valid YAML: {exc}") from exc
    return parse_funnels(data, source=str(path))


def parse_funnels(data: Any, *, source: str = "funnels") -> list[Funnel]:
    """Check the parsed YAML document and build :class:`Funnel` s."""
    if not isinstance(data, dict) or not isinstance(data.get("funnels"), list):
        raise FunnelSpecError(f"{source}: expected a mapping with a `funnels` list")
    if not data["funnels"]:
        raise FunnelSpecError(f"{source}: `funnels` is empty")
    funnels: list[Funnel] = []
    names: set[str] = set()
    for i, raw in enumerate(data["funnels"], start=1):
        where = f"{source}: funnel {i}"
        if not isinstance(raw, dict):
            raise FunnelSpecError(f"{where}: expected a mapping")
        unknown = set(raw) - {"name", "within", "steps", "breakdowns"}
        if unknown:
            raise FunnelSpecError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise FunnelSpecError(f"{where}: `name` is required (text)")
        where = f"{source}: funnel {name!r}"
        if name in names:
            raise FunnelSpecError(f"{where}: defined twice")
        names.add(name)
        funnels.append(Funnel(name, _steps(raw.get("steps"), where),
                              _within(raw.get("within", "session"), where),
                              _breakdowns(raw.get("breakdowns", list(BREAKDOWNS)), where)))
    return funnels


def _within(value: Any, where: str) -> int | None:
    if value == "session":
        return None
    match = WITHIN_RE.match(str(value))
    if not match or int(match.group(1)) < 1:
        raise FunnelSpecError(f"{where}: `within` must be `session` or a number of days such "
                              f"as `7d`, got {value!r}")
    return int(match.group(1))


def _breakdowns(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or any(v not in BREAKDOWNS for v in value):
        raise FunnelSpecError(f"{where}: `breakdowns` must be a list of {', '.join(BREAKDOWNS)}")
    return tuple(value)


def _steps(value: Any, where: str) -> tuple[Step, ...]:
    if not isinstance(value, list) or not 2 <= len(value) <= MAX_STEPS:
        raise FunnelSpecError(f"{where}: `steps` must list 2 to {MAX_STEPS} steps")
    steps = []
    for n, raw in enumerate(value, start=1):
        at = f"{where}, step {n}"
        if not isinstance(raw, dict):
            raise FunnelSpecError(f"{at}: expected a mapping")
        unknown = set(raw) - {"name", *STEP_KEYS}
        if unknown:
            raise FunnelSpecError(f"{at}: unknown key(s) {', '.join(sorted(unknown))}; "
                                  f"known: name, {', '.join(STEP_KEYS)}")
        conditions = tuple((k, _condition(k, raw[k], at)) for k in STEP_KEYS if k in raw)
        if not conditions:
            raise FunnelSpecError(f"{at}: give at least one of {', '.join(STEP_KEYS)}")
        name = raw.get("name", f"Step {n}")
        if not isinstance(name, str) or not name.strip():
            raise FunnelSpecError(f"{at}: `name` must be text")
        steps.append(Step(name, conditions))
    return tuple(steps)


def _condition(key: str, value: Any, at: str) -> Any:
    if key == "event_type":
        types = value if isinstance(value, list) else [value]
        bad = [t for t in types if t not in EVENT_TYPES]
        if not types or bad:
            raise FunnelSpecError(f"{at}: `event_type` {bad or value!r} is not an event type "
                                  f"({', '.join(EVENT_TYPES)})")
        return tuple(types)
    if not isinstance(value, str) or not value:
        raise FunnelSpecError(f"{at}: `{key}` must be non-empty text")
    if key == "referrer_class" and value not in REFERRER_CLASSES:
        raise FunnelSpecError(f"{at}: `referrer_class` must be one of "
                              f"{', '.join(REFERRER_CLASSES)}")
    if key == "url_regex":
        try:
            re.compile(value)
        except re.error as exc:
            raise FunnelSpecError(f"{at}: `url_regex` is not a regular expression: {exc}") \
                from exc
    return value
