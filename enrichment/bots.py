"""Is this user agent a bot, and which kind: the field's maintained lists behind one fast matcher.

Sources, layered (first match wins, in this order):

1. **security probes** (ours): injection payloads (``${jndi:``, SQL, shell, path traversal) and
   scanner names. A probe is never excused as a person.
2. **headless browsers** (ours): HeadlessChrome, PhantomJS, Puppeteer, Playwright, Selenium...
3. **Matomo's bot list** (``device-detector``'s ``bots.yml``, ~840 rules, categorised): search
   bots and crawlers, site and network monitors, feed fetchers, security checkers.
4. **crawler-user-agents** (``crawler-user-agents.json``, ~1,500 patterns, tagged).
5. Matomo's **feed readers** and **HTTP libraries** (client lists of ``device-detector``).
6. **generic signs** (ours): a URL or e-mail in the UA (``+http://``), and words no browser uses
   (bot, crawl, spider, fetch, monitor, uptime, feed...).

Every rule runs in one Rust regex-filtered matcher (ua-parser's ``ua_parser_rs`` engine, fed our
rules instead of its own), so a browser costs a few microseconds however long the lists are.
Rules that need look-around (which that engine lacks) are few and run in Python, only on UAs
that contain one of their literal words. The lists are compiled on first use, not at import.

People with bot-like tokens are excused afterwards (never a probe): text and old browsers such
as Lynx (``libwww-FM``), NCSA Mosaic (``libwww``), Amiga browsers, and names that merely contain
"bot" (Cubot phones).
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import regex

from enrichment.yaml_lists import load_yaml

CRAWLER = "crawler"
MONITOR = "monitor"
FEED_READER = "feed_reader"
LIBRARY = "library"
HEADLESS = "headless"
PROBE = "probe"
BOT_CATEGORIES = (CRAWLER, MONITOR, FEED_READER, LIBRARY, HEADLESS, PROBE)

# Matomo category -> ours (anything else is a crawler: search, AI, social previews, services).
MATOMO_CATEGORIES = {
    "Site Monitor": MONITOR, "Network Monitor": MONITOR, "Benchmark": MONITOR,
    "Validator": MONITOR,
    "Feed Fetcher": FEED_READER, "Feed Reader": FEED_READER, "Feed Parser": FEED_READER,
    "Read-it-later Service": FEED_READER,
    "Security Checker": PROBE, "Security search bot": PROBE,
}
# crawler-user-agents tag -> ours, most specific first.
LIST_TAGS = (("browser-automation", HEADLESS), ("scanner", PROBE), ("monitoring", MONITOR),
             ("feed-reader", FEED_READER), ("http-library", LIBRARY))
# Matomo "libraries" that a person drives (media players, in-app views, an editor's browser).
PERSON_LIBRARIES = {"Apple Core Media", "Safari View Service", "KaiOS Downloader", "Emacs",
                    "Android License Verification Library", "GStreamer", "uTorrent",
                    "Free Download Manager", "gvfs", "Cygwin"}
HEADLESS_LIBRARIES = {"PhantomJS", "SlimerJS", "Cypress", "jsdom"}
# crawler-user-agents patterns that also match real phones and browsers (found by running the
# list over Matomo's device fixtures): an Android build id, brand and model names.
PERSON_LIST_PATTERNS = {"Fluid", "Code\\/1\\.", "AP3A\\.240617\\.008", "Butterfly", "Sonic",
                        "008\\/", "Expanse", "speedy", "Buck\\/", "Fever", "Viber"}

PROBES = [
    r"\$\{",  # ${jndi:ldap://...}, ${env:...}: Log4Shell and template injection
    r"\bjndi:", r"<\s*script", r"\bunion\b.{0,40}\bselect\b", r"\bselect\b.{1,80}\bfrom\b",
    r"pg_sleep|waitfor\s+delay|\bsleep\s*\(\s*\d|benchmark\s*\(", r"'\s*(?:or|and)\s+['\d]",
    r"\(\)\s*\{\s*:?\s*;?\s*\}", r"\.\./\.\./", r"/etc/passwd", r"\bcmd\.exe\b|/bin/(?:ba)?sh\b",
    r"\b(?:nmap|masscan|zgrab|sqlmap|nikto|nuclei|wpscan|dirbuster|gobuster|ffuf|acunetix|"
    r"netsparker|openvas|nessus|qualys|w3af|zmeu|morfeus|jorgee|hydra|wfuzz|arachni|"
    r"burp\s*suite|censysinspect|internetmeasurement|l9explore|l9tcpid|leakix|interactsh|"
    r"modatscanner|expanse, a palo alto|netsystemsresearch|shodan|zoomeye)\b",
]
HEADLESS_RULES = [r"headless", r"phantomjs", r"slimerjs", r"puppeteer", r"playwright",
                  r"selenium", r"webdriver", r"lightpanda", r"\bcypress\b", r"jsdom"]
# Generic signs, most specific category first. No look-around (the Rust engine has none).
GENERIC = [
    (MONITOR, r"uptime|monitor|pingdom|status-?check|health-?check|synthetic|\bcheck_http"),
    (FEED_READER, r"\bfeed|rss\b|rss[/ ]|podcast|subscriber|news ?reader|aggregator"),
    (CRAWLER, r"bot\b|bot[/_;)-]|robot|crawl|spider|scrap(?:er|ing|y)|archiv|slurp|"
              r"index(?:er|ing)|fetch|harvest|preview|validator|checker/|\bparser|"
              r"https?://|\+https?|\bwww\.[a-z0-9-]+\.|[a-z0-9._-]+@[a-z0-9-]+\.[a-z]{2,}"),
]
# A person's browser whose UA nonetheless trips a list: text and old browsers first of all.
PEOPLE = re.compile(
    r"^(?:lynx/|ncsa[ _]mosaic/|links \(|elinks/|w3m/|amiga|ibrowse/|voyager|mozilla/[0-9.]+ "
    r"\((?:compatible; )?(?:ibrowse|amiga))|amiga-aweb|amigavoyager|\bcubot\b|"
    r"\bcaboto\b|\bfluid/|htc[ _]?(?:j )?butterfly|\bxbot[ _](?:senior|junior)|"
    r"^whatsapp/\S+ (?:android|ios|wp\d?|s40)/|^mozacfetch/|^ps4application ",
    re.IGNORECASE,
)
# How Matomo applies each of its regexes: not preceded by a letter, '_' or '-' (case-blind).
MATOMO_BOUNDARY = "(?:^|[^A-Z_-])(?:{})"
LOOKAROUND = re.compile(r"\(\?<?[=!]|\\[1-9]")
LOOKAROUND_START = re.compile(r"\(\?<?[=!]")


class Rule(NamedTuple):
    pattern: str
    ignore_case: bool
    category: str
    name: str


def strip_lookaround(pattern: str) -> str:
    """``pattern`` without its look-around groups: a looser pattern, matching a superset.

    >>> strip_lookaround(r"(?<!cu|Hu)bot(?![ _]TAB|(?:x))s")
    'bots'
    """
    out, index = [], 0
    while index < len(pattern):
        start = LOOKAROUND_START.match(pattern, index)
        if not start:
            step = 2 if pattern[index] == "\\" else 1
            out.append(pattern[index:index + step])
            index += step
            continue
        depth, index = 1, start.end()
        while index < len(pattern) and depth:
            char = pattern[index]
            if char == "\\":
                index += 1
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
            index += 1
    return "".join(out)


def _package_file(package: str, *parts: str) -> Path:
    return Path(str(resources.files(package).joinpath(*parts)))


def _yaml(path: Path) -> list[dict[str, Any]]:
    return load_yaml(path.read_text(encoding="utf-8"))


def matomo_rules() -> list[Rule]:
    """Matomo's bot list, then its feed readers and HTTP libraries (device-detector's YAML)."""
    regexes = _package_file("device_detector", "regexes", "upstream")
    rules = [Rule(MATOMO_BOUNDARY.format(entry["regex"]), True,
                  MATOMO_CATEGORIES.get(entry.get("category") or "", CRAWLER), entry["name"])
             for entry in _yaml(regexes / "bots.yml")]
    rules += [Rule(MATOMO_BOUNDARY.format(entry["regex"]), True, FEED_READER, entry["name"])
              for entry in _yaml(regexes / "client" / "feed_readers.yml")]
    rules += [Rule(MATOMO_BOUNDARY.format(entry["regex"]), True,
                   HEADLESS if entry["name"] in HEADLESS_LIBRARIES else LIBRARY, entry["name"])
              for entry in _yaml(regexes / "client" / "libraries.yml")
              if entry["name"] not in PERSON_LIBRARIES]
    return rules


def crawler_list_rules() -> list[Rule]:
    """crawler-user-agents' patterns (case-sensitive, as that list is written), by tag."""
    entries = json.loads(_package_file("crawleruseragents", "crawler-user-agents.json")
                         .read_text(encoding="utf-8"))
    rules = []
    for entry in entries:
        if entry["pattern"] in PERSON_LIST_PATTERNS:
            continue
        tags = set(entry.get("tags") or ())
        category = next((cat for tag, cat in LIST_TAGS if tag in tags), CRAWLER)
        rules.append(Rule(entry["pattern"], False, category, entry["pattern"]))
    return rules


def own_rules() -> list[Rule]:
    """Ours: probes, headless browsers (both before the lists), generic signs (after)."""
    first = [Rule(p, True, PROBE, "probe") for p in PROBES]
    first += [Rule(p, True, HEADLESS, "headless") for p in HEADLESS_RULES]
    return first


def generic_rules() -> list[Rule]:
    return [Rule(pattern, True, category, "generic") for category, pattern in GENERIC]


class BotMatcher:
    """All rules in one Rust matcher; look-around rules in Python behind a literal pre-check."""

    def __init__(self, rules: list[Rule]):
        from ua_parser_rs import DeviceExtractor  # the Rust engine ua-parser[regex] installs

        fast = [rule for rule in rules if not LOOKAROUND.search(rule.pattern)]
        slow = [rule for rule in rules if LOOKAROUND.search(rule.pattern)]
        # `regex` (a device-detector dependency) for variable-width look-behind; reached only
        # when the same rule with its look-arounds removed matches in the Rust pre-check.
        self.slow = [(regex.compile(rule.pattern, regex.IGNORECASE if rule.ignore_case else 0),
                      rule) for rule in slow]
        self.slow_check = DeviceExtractor(
            (strip_lookaround(rule.pattern), "i", "slow", None, None) for rule in slow)
        # Each rule's position, so a slow rule that matches earlier in the order wins.
        order = {id(rule): index for index, rule in enumerate(rules)}
        self.fast_order = [order[id(rule)] for rule in fast]
        self.slow_order = [order[id(rule)] for _, rule in self.slow]
        self.fast_rules = fast
        # family = index into fast_rules: the extractor substitutes nothing in a plain string.
        self.extractor = DeviceExtractor(
            (rule.pattern, "i" if rule.ignore_case else None, str(index), None, None)
            for index, rule in enumerate(fast))

    def match(self, ua: str) -> Rule | None:
        found = self.extractor.extract(ua)
        best = (self.fast_order[int(found.family)], self.fast_rules[int(found.family)]) \
            if found else None
        if not self.slow_check.extract(ua):
            return best[1] if best else None
        for (compiled, rule), position in zip(self.slow, self.slow_order, strict=True):
            if best is not None and position > best[0]:
                break
            if compiled.search(ua):
                best = (position, rule)
                break
        return best[1] if best else None


@cache
def _matcher() -> BotMatcher:
    """Built on first use (~0.1 s): reads and compiles ~2,500 rules."""
    rules = own_rules() + matomo_rules() + crawler_list_rules() + generic_rules()
    # The slow (look-around) rules are scanned in order, so keep them sorted by position.
    return BotMatcher(rules)


def bot_match(user_agent: str) -> Rule | None:
    """The first rule that calls ``user_agent`` a bot, or None for a person.

    >>> bot_match("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)").name
    'Googlebot'
    >>> bot_match("Lynx/2.8.9rel.1 libwww-FM/2.14 SSL-MM/1.4.1 GNUTLS/3.6.5") is None
    True
    """
    stripped = user_agent.strip()
    if not stripped or stripped == "-":
        return Rule("", False, LIBRARY, "empty")
    rule = _matcher().match(user_agent)
    if rule is not None and rule.category != PROBE and PEOPLE.search(user_agent):
        return None
    return rule


def bot_category(user_agent: str) -> str | None:
    """crawler / monitor / feed_reader / library / headless / probe, or None for a person.

    >>> bot_category("Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)")
    'monitor'
    >>> bot_category("${jndi:ldap://example.com/a}")
    'probe'
    """
    rule = bot_match(user_agent)
    return rule.category if rule else None
