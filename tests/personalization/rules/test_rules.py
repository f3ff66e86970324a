"""The marketer's rules file: format, every validation message with its line, choice, reload."""

from __future__ import annotations

from pathlib import Path

import pytest

from personalization.rules import (
    DEFAULT_RULES_FILE,
    Context,
    RulesError,
    RulesSource,
    load_rules,
    parse_rules,
)

GOOD = """\
version: 1
slots:
  hero:
    default:
      variant: default
      html: <p>Welcome</p>
    variants:
      - variant: comeback
        when:
          segment: cart_abandoner
        html: <p>Your cart misses you</p>
      - variant: spring
        when:
          campaign: [spring-sale, spring-news]
          intent_min: 0.1
        text: Spring sale
"""


def test_the_packaged_rules_have_the_demo_slots() -> None:
    rules = load_rules(DEFAULT_RULES_FILE)
    hero, recommended = rules.slot("hero"), rules.slot("recommended")
    assert hero is not None and recommended is not None
    # the demo's ground truth knows these hero variants; a cart abandoner gets the discount
    assert hero.variant_names == ("default", "discount", "free_shipping", "bestsellers")
    assert hero.choose(Context(segment="cart_abandoner", cart_items=1)).name == "discount"
    assert hero.choose(Context(segment="new_visitor", source="search")).name == "bestsellers"
    assert hero.choose(Context(segment="new_visitor", source="direct")).name == "default"
    assert recommended.recommendations == 4
    assert "{{ recommendations }}" in (recommended.default.html or "")


@pytest.mark.parametrize(("context", "expected"), [
    (Context(segment="cart_abandoner"), "comeback"),
    (Context(segment="cart_abandoner", campaign="spring-sale", intent=0.5), "comeback"),
    (Context(segment="new_visitor", campaign="spring-sale", intent=0.5), "spring"),
    (Context(segment="new_visitor", campaign="spring-sale", intent=0.05), "default"),
    (Context(segment="new_visitor", campaign="autumn", intent=0.5), "default"),
    (Context(segment="new_visitor", intent=0.5), "default"),
])
def test_first_matching_variant_wins(context: Context, expected: str) -> None:
    assert parse_rules(GOOD).slot("hero").choose(context).name == expected  # type: ignore


def test_content_fills_in_recommendations_escaped() -> None:
    rules = parse_rules(GOOD.replace("<p>Welcome</p>", "'<h2>For you</h2>{{ recommendations }}'"))
    variant = rules.slot("hero").default  # type: ignore[union-attr]
    content = variant.content([{"sku": "X", "name": "Tom & <Jerry>", "price": 12.5,
                                "url": 'https://shop.example.com/p/X?"q"'}])
    assert content == {"html": '<h2>For you</h2><ul class="products"><li><a href="https://'
                               'shop.example.com/p/X?&quot;q&quot;">Tom &amp; &lt;Jerry&gt;</a>'
                               ' <span class="price">12.50</span></li></ul>'}
    assert rules.slot("hero").variants[1].content() == {"text": "Spring sale"}  # type: ignore


# (file text, line, column, path, reason) — line and column written by hand from the text
BAD = [
    ("", 1, 1, "", "the file is empty"),
    ("version: 1\nslots:\n  hero: [\n", 4, 1, "", "not valid YAML"),
    ("version: 2\nslots: {}\n", 1, 10, "version", "must be 1"),
    ("version: 1\n", 1, 1, "", "missing required key 'slots'"),
    ("version: 1\nslots:\n  hero:\n    variants: []\n", 3, 3, "slots.hero",
     "missing required key 'default'"),
    (GOOD.replace("segment: cart_abandoner", "segment: vip"), 10, 20,
     "slots.hero.variants[0].when.segment", "unknown value 'vip'; expected one of"),
    (GOOD.replace("intent_min: 0.1", "intent_min: high"), 15, 23,
     "slots.hero.variants[1].when.intent_min", "expected a probability from 0 to 1"),
    (GOOD.replace("      html: <p>Welcome</p>\n",
                  "      html: <p>Welcome</p>\n      colour: red\n"), 7, 7,
     "slots.hero.default.colour", "unknown key 'colour'"),
    (GOOD.replace("variant: spring", "variant: comeback"), 12, 18, "slots.hero",
     "variant name 'comeback' is used twice (also on line 8)"),
    (GOOD.replace("        when:\n          segment: cart_abandoner\n", ""), 8, 9,
     "slots.hero.variants[0]", "missing required key 'when'"),
    (GOOD.replace("<p>Your cart misses you</p>", "'{{ name }}'"), 11, 15,
     "slots.hero.variants[0].html", "unknown placeholder '{{ name }}'"),
    (GOOD.replace("  hero:\n", "  hero:\n    recommendations: 99\n"), 4, 22,
     "slots.hero.recommendations", "expected a whole number from 0 to 20"),
    ("version: 1\nversion: 1\nslots: {}\n", 2, 1, "version", "duplicate key 'version' "
     "(first on line 1)"),
    (GOOD.replace("  hero:", "  hero banner:"), 3, 3, "slots.hero banner", "slot name"),
    (GOOD.replace("          intent_min: 0.1\n", "          intent_min: 0.5\n"
                  "          intent_max: 0.2\n"), 16, 23,
     "slots.hero.variants[1].when.intent_max", "must be above intent_min"),
]


@pytest.mark.parametrize(("text", "line", "column", "path", "reason"), BAD)
def test_invalid_files_are_rejected_with_line_and_reason(text: str, line: int, column: int,
                                                         path: str, reason: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "rules.yaml")
    problem = caught.value.problems[0]
    assert (problem.line, problem.column, problem.path) == (line, column, path)
    assert reason in problem.reason
    assert f"rules.yaml:{line}:{column}: " in str(caught.value)


def test_all_problems_are_reported_at_once() -> None:
    text = GOOD.replace("segment: cart_abandoner", "segment: vip").replace(
        "intent_min: 0.1", "intent_min: 7")
    with pytest.raises(RulesError) as caught:
        parse_rules(text)
    assert [p.line for p in caught.value.problems] == [10, 15]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rules_reload_when_the_file_changes_and_survive_a_bad_save(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD)
    clock = Clock()
    source = RulesSource(path, clock=clock)
    assert source.current().slot("hero").default.html == "<p>Welcome</p>"  # type: ignore

    path.write_text(GOOD.replace("<p>Welcome</p>", "<p>Hello again</p>"))
    assert source.current().slot("hero").default.html == "<p>Welcome</p>"  # not checked yet
    clock.now += 1.5
    assert source.current().slot("hero").default.html == "<p>Hello again</p>"  # type: ignore

    path.write_text(GOOD.replace("segment: cart_abandoner", "segment: vip"))
    clock.now += 1.5
    assert source.current().slot("hero").default.html == "<p>Hello again</p>"  # type: ignore
    assert source.error is not None and source.error.problems[0].line == 10

    path.write_text(GOOD.replace("<p>Welcome</p>", "<p>Fixed</p>"))
    clock.now += 1.5
    assert source.current().slot("hero").default.html == "<p>Fixed</p>"  # type: ignore
    assert source.error is None


def test_an_invalid_file_at_start_is_fatal(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("version: 1\nslots: nope\n")
    with pytest.raises(RulesError, match=r"rules.yaml:2:8: slots: expected a mapping"):
        RulesSource(path)
    with pytest.raises(RulesError, match="cannot read the file"):
        RulesSource(tmp_path / "missing.yaml")
