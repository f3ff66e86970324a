"""Device type from Matomo's model lists: which brand, then which model, says phone or tablet.

An Android tablet often says ``Mobile`` and a phone app often omits it, so fragments alone get
about one Android UA in twelve wrong; Matomo's detector (``device-detector``'s ``mobiles.yml``,
~2,000 brands, ~20,000 models, each with a type) knows the models. Calling the detector costs
~10 ms a UA, so we take only its lists and run them as Matomo does (first brand whose regex
matches, then that brand's first matching model; the model's type, else the brand's) in ua-parser's
Rust regex engine: one matcher for all brands, and one per brand built when first needed.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import regex

from enrichment.bots import strip_lookaround
from enrichment.yaml_lists import load_yaml

# How Matomo bounds a device regex (not preceded by a letter, digit, '_' or '-'), lower-cased:
# we match lower-cased patterns on the lower-cased UA, which compiles 2.5x faster than ``i``.
BOUNDED = r"(?:^|[^a-z0-9_-]|[^a-z0-9-]_|sprd-|mz-)(?:{})"  # (with IGNORECASE when confirming)
ESCAPE_OR_CHAR = re.compile(r"\\.|.", re.DOTALL)
LOOKAROUND = re.compile(r"\(\?<?[=!]|\\[1-9]")
# Matomo device type -> the contract's device.
TYPES = {"smartphone": "mobile", "phablet": "mobile", "feature phone": "mobile",
         "tablet": "tablet", "desktop": "desktop"}


def _rust(pattern: str) -> str:
    """A Matomo regex, bounded and lower-cased outside escapes (``\\D`` stays ``\\D``).

    >>> _rust(r"SM-T\\d+|\\DX")
    '(?:^|[^a-z0-9_-]|[^a-z0-9-]_|sprd-|mz-)(?:sm-t\\\\d+|\\\\Dx)'
    """
    lowered = "".join(token if token.startswith("\\") else token.lower()
                      for token in ESCAPE_OR_CHAR.findall(pattern))
    return BOUNDED.format(lowered)


class ModelTypes:
    """Brand matcher plus lazily built per-brand model matchers."""

    def __init__(self, brands: list[dict[str, Any]]):
        from ua_parser_rs import DeviceExtractor

        self._extractor = DeviceExtractor
        self.brands = brands
        # A brand regex is split at its top-level '|': the alternatives without look-around go to
        # the Rust matcher as they are; those with it (in Apple's, Google's, Samsung's... ~90
        # brands) go without it (a looser pattern), and a match is confirmed with `regex`.
        rules, self.confirm = [], []
        for index, brand in enumerate(brands):
            for branch in split_alternatives(brand["regex"]):
                checked = LOOKAROUND.search(branch) is not None
                rules.append((_rust(strip_lookaround(branch) if checked else branch), None,
                              str(len(self.confirm)), None, None))
                self.confirm.append((index, regex.compile(BOUNDED.format(branch),
                                                          regex.IGNORECASE) if checked else None))
        self.brand_matcher = DeviceExtractor(rules)
        self.models: dict[int, Any] = {}

    def _model_matcher(self, index: int) -> Any:
        matcher = self.models.get(index)
        if matcher is None:
            brand = self.brands[index]
            rules = [(_rust(model["regex"]), None, model.get("device") or brand.get("device")
                      or "", None, None)
                     for model in brand.get("models") or ()
                     if "regex" in model and not LOOKAROUND.search(model["regex"])]
            matcher = self.models[index] = self._extractor(rules) if rules else False
        return matcher

    def brand_and_kind(self, user_agent: str) -> tuple[str | None, str | None]:
        """Matomo's brand and device type (smartphone, tablet, tv...) for ``user_agent``."""
        lowered = user_agent.lower()
        found = self.brand_matcher.extract(lowered)
        if found is None:
            return None, None
        index, exact = self.confirm[int(found.family)]
        if exact is not None and not exact.search(user_agent):
            return None, None  # the looser pattern only: leave it to the fragment rules
        matcher = self._model_matcher(index)
        model = matcher.extract(lowered) if matcher else None
        brand = self.brands[index]
        return str(brand["name"]), (model.family if model and model.family else None) or \
            brand.get("device")


def split_alternatives(pattern: str) -> list[str]:
    """``pattern``'s top-level alternatives (outside groups and character classes).

    >>> split_alternatives(r"a(?:b|c)|[|x]d|e\\|f")
    ['a(?:b|c)', '[|x]d', 'e\\\\|f']
    """
    parts, depth, in_class, start, index = [], 0, False, 0, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern[index + 1:index + 2] == "]":
                index += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(pattern[start:index])
            start = index + 1
        index += 1
    parts.append(pattern[start:])
    return parts


@cache
def _model_types() -> ModelTypes:
    """Read and compiled on first use (~1.5 s): Matomo's mobiles and notebooks lists."""
    folder = Path(str(resources.files("device_detector").joinpath("regexes", "upstream",
                                                                  "device")))
    brands: list[dict[str, Any]] = []
    for name in ("notebooks.yml", "mobiles.yml"):
        listing = load_yaml((folder / name).read_text(encoding="utf-8"))
        brands += [dict(entry, name=brand) for brand, entry in listing.items()]
    return ModelTypes(brands)


def model_device(user_agent: str) -> tuple[str | None, str | None]:
    """(brand, mobile / tablet / desktop / other) from Matomo's model lists; None when unknown.

    >>> model_device("Mozilla/5.0 (Linux; Android 10; TB-X505L) AppleWebKit/537.36 (KHTML, "
    ...              "like Gecko) Chrome/90.0.4430.93 Mobile Safari/537.36")
    ('Lenovo', 'tablet')
    """
    brand, kind = _model_types().brand_and_kind(user_agent)
    return brand, (None if kind is None else TYPES.get(kind, "other"))
