"""Read a rules YAML file into :class:`~personalization.rules.model.Rules`, or say exactly
what is wrong and where.

A marketer edits this file, so every problem is reported with its line, column, the path of
the setting (``slots.hero.variants[1].when.segment``) and what would be accepted; all problems
are reported at once, not just the first. The YAML is read node by node (``yaml.compose``)
rather than loaded into dicts, which is what keeps the line numbers, and lets duplicate keys
(which plain loading silently merges) be reported too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from personalization.rules.model import (
    BANDIT_POLICIES,
    BANDIT_REWARDS,
    RECOMMENDATIONS_PLACEHOLDER,
    BanditConfig,
    Conditions,
    Rules,
    Slot,
    Variant,
)
from personalization.segments import SEGMENTS
from tracker.contract import REFERRER_CLASSES
from tracker.contract.ids import is_valid_id

NAME_HINT = "1-64 letters, digits and _ . : - only"
DEVICES = ("desktop", "mobile", "tablet", "other")
MAX_CONTENT = 20_000  # characters of html or text per variant
PLACEHOLDER_RE = re.compile(r"\{\{.*?\}\}", re.S)
MAX_RECOMMENDATIONS = 20


@dataclass(frozen=True)
class Problem:
    line: int
    column: int
    path: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"line {self.line}, column {self.column}: {where}{self.reason}"


class RulesError(ValueError):
    """The rules file is unusable; ``problems`` has each one with its line."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        listed = "\n".join(f"  {source}:{p.line}:{p.column}: "
                           f"{p.path + ': ' if p.path else ''}{p.reason}" for p in problems)
        super().__init__(f"invalid rules file {source}:\n{listed}")

    def as_dicts(self) -> list[dict[str, Any]]:
        return [{"line": p.line, "column": p.column, "path": p.path, "reason": p.reason}
                for p in self.problems]


def load_rules(path: Path) -> Rules:
    """Parse the rules file at ``path``; raises :class:`RulesError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(str(path), [Problem(1, 1, "", f"cannot read the file: {exc}")]) \
            from None
    return parse_rules(text, str(path))


def parse_rules(text: str, source: str = "<rules>") -> Rules:
    """Parse rules from YAML text; raises :class:`RulesError`."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = f"not valid YAML: {exc.problem or exc.context}"
        raise RulesError(source, [Problem(line, column, "", reason)]) from None
    except yaml.YAMLError as exc:
        raise RulesError(source, [Problem(1, 1, "", f"not valid YAML: {exc}")]) from None
    reader = _Reader()
    rules = reader.rules(root, source)
    if reader.problems:
        raise RulesError(source, sorted(reader.problems, key=lambda p: (p.line, p.column)))
    assert rules is not None
    return rules


class _Reader:
    """Walks the node tree, collecting problems instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self._constructor = SafeConstructor()

    def fail(self, node: Node | None, path: str, reason: str) -> None:
        line, column = (node.start_mark.line + 1, node.start_mark.column + 1) if node else (1, 1)
        self.problems.append(Problem(line, column, path, reason))

    def scalar(self, node: Node) -> Any:
        try:
            return self._constructor.construct_object(node, deep=True)
        except ConstructorError as exc:
            return exc

    def mapping(self, node: Node, path: str, allowed: tuple[str, ...],
                required: tuple[str, ...] = (), owner: Node | None = None,
                ) -> dict[str, tuple[Node, Node]] | None:
        """Keys -> (key node, value node); reports unknown, duplicate and missing keys (a
        missing key at ``owner``, the key this mapping is the value of, when given)."""
        if not isinstance(node, MappingNode):
            self.fail(node, path, f"expected a mapping with keys {', '.join(allowed)}")
            return None
        out: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                self.fail(key_node, path, "keys must be plain words")
                continue
            where = f"{path}.{key}" if path else key
            if key in out:
                self.fail(key_node, where, f"duplicate key {key!r} (first on line "
                                           f"{out[key][0].start_mark.line + 1})")
                continue
            if allowed and key not in allowed:
                self.fail(key_node, where, f"unknown key {key!r}; expected one of "
                                           f"{', '.join(allowed)}")
                continue
            out[key] = (key_node, value_node)
        for key in required:
            if key not in out:
                self.fail(owner or node, path, f"missing required key {key!r}")
        return out

    # --- the document ---------------------------------------------------------------------------

    def rules(self, root: Node | None, source: str) -> Rules | None:
        if root is None:
            self.fail(None, "", "the file is empty; it needs `version: 1` and `slots:`")
            return None
        top = self.mapping(root, "", ("version", "slots"), ("version", "slots"))
        if top is None:
            return None
        if "version" in top:
            node = top["version"][1]
            if self.scalar(node) != 1:
                self.fail(node, "version", "must be 1 (the only rules format so far)")
        slots: dict[str, Slot] = {}
        if "slots" in top:
            node = top["slots"][1]
            entries = self.mapping(node, "slots", ())
            if entries is not None and not entries:
                self.fail(node, "slots", "define at least one slot")
            for name, (key_node, value_node) in (entries or {}).items():
                path = f"slots.{name}"
                if not is_valid_id(name):
                    self.fail(key_node, path, f"slot name {name!r}: {NAME_HINT}")
                    continue
                slot = self.slot(name, key_node, value_node, path)
                if slot is not None:
                    slots[name] = slot
        return Rules(slots, source)

    def slot(self, name: str, key_node: Node, node: Node, path: str) -> Slot | None:
        fields = self.mapping(node, path, ("default", "variants", "recommendations", "bandit"),
                              ("default",), owner=key_node)
        if fields is None:
            return None
        default = None
        if "default" in fields:
            default = self.variant(fields["default"][1], f"{path}.default", conditions=False)
        variants: list[Variant] = []
        if "variants" in fields:
            seq = fields["variants"][1]
            if not isinstance(seq, SequenceNode):
                self.fail(seq, f"{path}.variants", "expected a list of variants (- variant: ...)")
            else:
                for i, item in enumerate(seq.value):
                    variant = self.variant(item, f"{path}.variants[{i}]", conditions=True)
                    if variant is not None:
                        variants.append(variant)
        count = 4
        if "recommendations" in fields:
            value_node = fields["recommendations"][1]
            value = self.scalar(value_node)
            if not _is_int(value) or not 0 <= value <= MAX_RECOMMENDATIONS:
                self.fail(value_node, f"{path}.recommendations",
                          f"expected a whole number from 0 to {MAX_RECOMMENDATIONS}")
            else:
                count = value
        seen: dict[str, int] = {}
        for variant in ([default] if default else []) + variants:
            if variant.name in seen:
                self.problems.append(Problem(variant.line, variant.column, path, (
                    f"variant name {variant.name!r} is used twice (also on line "
                    f"{seen[variant.name]}); names must be unique within a slot")))
            seen.setdefault(variant.name, variant.line)
        if default is None:
            return None
        bandit = None
        if "bandit" in fields:
            bandit = self.bandit(fields["bandit"][1], f"{path}.bandit", set(seen))
        return Slot(name, default, tuple(variants), count, bandit)

    def bandit(self, node: Node, path: str, names: set[str]) -> BanditConfig | None:
        fields = self.mapping(node, path, ("share", "policy", "reward", "explore", "pin"))
        if fields is None:
            return None
        values: dict[str, Any] = {}
        before = len(self.problems)
        for key, (_, value_node) in fields.items():
            value = self.scalar(value_node)
            where = f"{path}.{key}"
            if key in ("share", "explore"):
                if not _is_number(value) or not 0 <= value <= 1:
                    self.fail(value_node, where, "expected a share from 0 to 1, e.g. 0.5")
                else:
                    values[key] = float(value)
            elif key == "policy" and value not in BANDIT_POLICIES:
                self.fail(value_node, where, f"unknown policy {value!r}; expected one of "
                                             f"{', '.join(BANDIT_POLICIES)}")
            elif key == "reward" and value not in BANDIT_REWARDS:
                self.fail(value_node, where, f"unknown reward {value!r}; expected one of "
                                             f"{', '.join(BANDIT_REWARDS)}")
            elif key == "pin" and value not in names:
                self.fail(value_node, where, f"unknown variant {value!r}; pin one of this "
                                             f"slot's variants: {', '.join(sorted(names))}")
            else:
                values.setdefault(key, value)
        if len(self.problems) > before:
            return None
        return BanditConfig(**values)

    def variant(self, node: Node, path: str, *, conditions: bool) -> Variant | None:
        allowed = ("variant", "html", "text", "when") if conditions else ("variant", "html", "text")
        fields = self.mapping(node, path, allowed, ("variant",))
        if fields is None:
            return None
        name_node = fields.get("variant", (None, None))[1]
        name = self.scalar(name_node) if name_node is not None else None
        ok = True
        if name_node is not None and not is_valid_id(name):
            self.fail(name_node, f"{path}.variant", f"variant name {name!r}: {NAME_HINT}")
            ok = False
        if "html" in fields and "text" in fields:
            self.fail(fields["text"][0], path, "give either html or text, not both")
            ok = False
        content: dict[str, str] = {}
        for key in ("html", "text"):
            if key not in fields:
                continue
            value_node = fields[key][1]
            value = self.scalar(value_node) if isinstance(value_node, ScalarNode) else None
            if not isinstance(value, str):
                self.fail(value_node, f"{path}.{key}", "expected text (use | for several lines)")
                ok = False
                continue
            if len(value) > MAX_CONTENT:
                self.fail(value_node, f"{path}.{key}", f"{len(value)} characters; at most "
                                                       f"{MAX_CONTENT}")
                ok = False
            for placeholder in PLACEHOLDER_RE.findall(value):
                if key == "text" or placeholder != RECOMMENDATIONS_PLACEHOLDER:
                    self.fail(value_node, f"{path}.{key}", (
                        f"unknown placeholder {placeholder!r}; the only one is "
                        f"{RECOMMENDATIONS_PLACEHOLDER!r}, in html"))
                    ok = False
            content[key] = value
        when = Conditions()
        if conditions:
            if "when" in fields:
                parsed = self.conditions(fields["when"][1], f"{path}.when")
                if parsed is None:
                    ok = False
                else:
                    when = parsed
            else:
                self.fail(node, path, "missing required key 'when' (a variant without "
                                      "conditions would hide every variant after it; make it "
                                      "the default instead)")
                ok = False
        if not ok or name_node is None:
            return None
        return Variant(name, content.get("html"), content.get("text"), when,
                       name_node.start_mark.line + 1, name_node.start_mark.column + 1)

    def conditions(self, node: Node, path: str) -> Conditions | None:
        keys = ("segment", "intent_min", "intent_max", "cart", "cart_value_min", "campaign",
                "source", "device", "returning", "customer")
        fields = self.mapping(node, path, keys)
        if fields is None:
            return None
        if not fields:
            self.fail(node, path, f"give at least one condition: {', '.join(keys)}")
            return None
        values: dict[str, Any] = {}
        before = len(self.problems)
        for key, (_, value_node) in fields.items():
            where = f"{path}.{key}"
            if key in ("segment", "source", "device"):
                choices = {"segment": SEGMENTS, "source": REFERRER_CLASSES,
                           "device": DEVICES}[key]
                values[key] = self.choice_set(value_node, where, choices)
            elif key == "campaign":
                values[key] = self.choice_set(value_node, where, None)
            elif key in ("intent_min", "intent_max"):
                value = self.scalar(value_node)
                if not _is_number(value) or not 0 <= value <= 1:
                    self.fail(value_node, where, "expected a probability from 0 to 1, e.g. 0.3")
                else:
                    values[key] = float(value)
            elif key == "cart_value_min":
                value = self.scalar(value_node)
                if not _is_number(value) or value < 0:
                    self.fail(value_node, where, "expected an amount >= 0, e.g. 50")
                else:
                    values[key] = float(value)
            elif key == "cart":
                value = self.scalar(value_node)
                if value not in ("empty", "not_empty"):
                    self.fail(value_node, where, "expected empty or not_empty")
                else:
                    values[key] = value
            else:  # returning, customer
                value = self.scalar(value_node)
                if not isinstance(value, bool):
                    self.fail(value_node, where, "expected true or false")
                else:
                    values[key] = value
        low, high = values.get("intent_min"), values.get("intent_max")
        if low is not None and high is not None and low >= high:
            self.fail(fields["intent_max"][1], f"{path}.intent_max",
                      f"must be above intent_min ({low}); no visitor could match")
        if len(self.problems) > before:
            return None
        return Conditions(**values)

    def choice_set(self, node: Node, path: str,
                   choices: tuple[str, ...] | None) -> frozenset[str] | None:
        """A name or a list of names; with ``choices``, each must be one of them."""
        if isinstance(node, SequenceNode):
            items = [(n, self.scalar(n) if isinstance(n, ScalarNode) else None)
                     for n in node.value]
            if not items:
                self.fail(node, path, "the list is empty")
                return None
        else:
            items = [(node, self.scalar(node) if isinstance(node, ScalarNode) else None)]
        out = set()
        for item_node, value in items:
            if not isinstance(value, str) or not value:
                self.fail(item_node, path, "expected a name or a list of names")
            elif choices is not None and value not in choices:
                self.fail(item_node, path, f"unknown value {value!r}; expected one of "
                                           f"{', '.join(choices)}")
            else:
                out.add(value)
        return frozenset(out)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
