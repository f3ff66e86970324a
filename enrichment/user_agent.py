"""User-agent parsing: browser and OS from ua-parser, device type and brand from Matomo's model
lists and UA fragments, bots from the maintained lists, all behind one LRU.

``user_agent_block`` is the hot path: browser and OS come from ua-parser 1.x's Rust extractors
(called directly), the device from :func:`brand_and_device` (computers at once; else Matomo's
model lists, :mod:`enrichment.device_models`; else fragment rules), the bot verdict and category
from :func:`enrichment.bots.bot_match`. Every rule list runs in ua-parser's Rust regex engine,
so a unique UA costs ~30 us; real traffic repeats a few hundred UAs, so a repeat costs a dict
copy. ``parse`` stays the cached drop-in for ``user_agents.parse`` (its classification rules,
not ours) for callers that want that API.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

from ua_parser import BestAvailableResolver, Domain, Parser, load_lazy_builtins
from user_agents.parsers import UserAgent, parse_browser, parse_device, parse_operating_system

from enrichment.bots import bot_match
from enrichment.device_models import model_device

CACHE_SIZE = 16_384
UNKNOWN = "Other"

# Fragment rules, matched on the lower-cased UA by ua-parser's Rust engine (Python's ``re``
# spends ~100 us a UA on these alternations). Devices that are neither a computer, a phone nor
# a tablet: TVs, consoles, cars, watches, e-ink readers.
OTHER_DEVICE = (
    r"smart-?tv|\bsmarttv|hbbtv|googletv|\bcrkey\b|android tv|\baft[a-z]{1,4}\b|bravia|"
    r"web0s|netcast|\broku|tizen[^)]*tv|playstation|\bxbox|nintendo|\bwii\b|\bps4\b|"
    r"tesla|qtcarbrowser|\bwatch\b|wear ?os|\bviera\b|\bvizio\b|\bdtv\b|opera tv|"
    r"kindle/[0-3]\."
)
TABLET = (
    r"ipad|tablet|\bkindle|\bsilk/|playbook|\bkf[a-z]{2,5}\b|nexus (?:7|9|10)\b|"
    r"pixel c\b|\bsm-[tpx]\d{3}|\bgt-p\d{4}|\bgt-n(?:5|8)\d{2}|sch-i800|\bxoom|mediapad|"
    r"\bmatepad|lenovo ?tab|\btb-\d|ideatab|\byoga tab|transformer|\bnook|\bmi pad|"
    r"\bredmi pad|\btab ?[0-9sa]\d?\b|\btab\b|\bsgp\d{3}|\bso-0[35]f|\bmz61"
)
PHONE = (
    r"iphone|ipod|mobile|phone|\bmobi\b|blackberry|\bbb10\b|symbian|series ?[46]0|midp|"
    r"opera mini|j2me|kaios|\bup\.browser|netfront|obigo|\bmaui\b|nokia|samsung-|sonyericsson|"
    r"\bmot-|\blg-|\bsie-|\bbada\b|palm|webos|iemobile|windows ce|fennec|minimo|"
    r"; ?wv\)|\bmeego\b|\bmaemo\b|sailfish|\bucweb|ucbrowser"
)
DESKTOP = (
    r"windows nt|windows (?:98|95|me|xp|2000)|win(?:98|95|9x|32|64)\b|macintosh|mac os x|"
    r"mac_powerpc|x11|linux|cros|freebsd|openbsd|netbsd|sunos|solaris|beos|haiku|amiga|"
    r"morphos|os/2|risc ?os|irix|hp-ux|aix|inferno|syllable|win16|windows 3\."
)
WINDOWS_TOUCH = r"windows nt (?:6\.[23]|1\d\.)[^)]*;\s*touch[;)]"
PHONE_OS = {"iOS", "Windows Phone", "BlackBerry OS", "Symbian OS", "KaiOS", "Firefox OS"}
DESKTOP_OS = {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "FreeBSD"}


@cache
def _fragments() -> Any:
    """One Rust matcher over the fragment rules; ``family`` names the rule that matched first.

    Order matters: other devices, then tablets, then phones, then desktops.
    """
    from ua_parser_rs import DeviceExtractor

    return DeviceExtractor((pattern, None, name, None, None) for name, pattern in (
        ("other", OTHER_DEVICE), ("touch", WINDOWS_TOUCH), ("tablet", TABLET),
        ("phone", PHONE), ("desktop", DESKTOP)))


@cache
def _phone_after_tablet() -> Any:
    from ua_parser_rs import DeviceExtractor

    return DeviceExtractor([(PHONE, None, "phone", None, None)])


@cache
def _fast_parser() -> Parser:
    """ua-parser on its best resolver (the Rust ``regex`` one when ``ua-parser-rs`` is
    installed, else pure Python), built on first use: compiling the rules takes ~0.25 s."""
    return Parser(BestAvailableResolver(load_lazy_builtins()))


class FastUserAgent(UserAgent):
    """A ``user_agents`` UserAgent (same ``is_mobile``, ``is_bot``... rules) parsed fast."""

    def __init__(self, user_agent_string: str):  # deliberately not calling super().__init__
        result = _fast_parser()(user_agent_string, Domain.ALL).complete().with_defaults()
        ua, os_, device = result.user_agent, result.os, result.device
        self.ua_string = user_agent_string
        self.os = parse_operating_system(os_.family, os_.major, os_.minor, os_.patch,
                                         os_.patch_minor)
        self.browser = parse_browser(ua.family, ua.major, ua.minor, ua.patch, ua.patch_minor)
        self.device = parse_device(device.family, device.brand, device.model)


@lru_cache(maxsize=1024)
def parse(user_agent_string: str) -> FastUserAgent:
    """Drop-in for ``user_agents.parse`` (cached; treat the result as read-only)."""
    return FastUserAgent(user_agent_string)


def device_type(user_agent: str, os_family: str = UNKNOWN) -> str:
    """desktop / mobile / tablet / other for a person's user agent (bots are decided before).

    >>> device_type("Mozilla/5.0 (Android; Tablet; rv:20.0) Gecko/20.0 Firefox/20.0")
    'tablet'
    >>> device_type("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like "
    ...             "Gecko) Chrome/124.0 Mobile Safari/537.36", "Android")
    'mobile'
    """
    return brand_and_device(user_agent, os_family)[1]


def brand_and_device(user_agent: str, os_family: str = UNKNOWN) -> tuple[str | None, str]:
    """Device brand (Matomo's name, when its lists know the model) and device type.

    A computer's UA (only a desktop fragment, no Android) skips the model lists: they know
    phones, tablets and TVs, and cost a third of a unique UA's time. Otherwise Matomo's model
    lists decide; failing them, fragments, as Matomo's detector does when it knows no model:
    TVs, consoles and cars are ``other``; ``iPad``, ``Tablet`` (not Windows' ``Tablet PC``),
    known tablet models and Windows 8+ ``Touch`` are tablets; Android without a phone sign is a
    tablet (Chrome's rule); phones and feature phones are ``mobile``.
    """
    low = user_agent.lower()
    found = _fragments().extract(low.replace("tablet pc", ""))
    rule = found.family if found else None
    android = os_family == "Android" or "android" in low
    if rule == "desktop" and not android:
        return None, "desktop"
    if rule in ("phone", "tablet") and ("iphone" in low or "ipad" in low) and not android \
            and "windows" not in low:
        return "Apple", "tablet" if "ipad" in low else "mobile"  # as Matomo's lists say
    brand, model = model_device(user_agent)
    if model is not None:  # Matomo's model lists know this device
        return brand, model
    if rule == "other":
        return brand, "other"
    if rule in ("tablet", "touch"):
        return brand, "tablet"
    if android:
        return brand, "mobile" if rule == "phone" else "tablet"
    if rule == "phone" or os_family in PHONE_OS:
        return brand, "mobile"
    if rule == "desktop" or os_family in DESKTOP_OS:
        return brand, "desktop"
    return brand, "other"


@cache
def _extractors() -> tuple[Any, Any]:
    """ua-parser's browser and OS extractors, called directly: its ``Parser`` wraps each answer
    in three result objects, a third of the cost. Falls back to the ``Parser`` without Rust."""
    resolver = _fast_parser().resolver
    if hasattr(resolver, "ua") and hasattr(resolver, "os"):
        return resolver.ua.extract, resolver.os.extract

    def browser(ua: str) -> Any:
        return _fast_parser()(ua, Domain.USER_AGENT).user_agent

    def system(ua: str) -> Any:
        return _fast_parser()(ua, Domain.OS).os

    return browser, system


@lru_cache(maxsize=CACHE_SIZE)
def _describe(user_agent_string: str) -> dict[str, Any]:
    browser_of, os_of = _extractors()
    ua, os_ = browser_of(user_agent_string), os_of(user_agent_string)
    os_family = os_.family if os_ else UNKNOWN
    bot = bot_match(user_agent_string)
    brand, device = ("Spider", "bot") if bot else brand_and_device(user_agent_string, os_family)
    block: dict[str, Any] = {
        "browser": (ua.family if ua else UNKNOWN)[:64],
        "browser_version": _version(ua.major, ua.minor, ua.patch) if ua else None,
        "os": os_family[:64],
        "os_version": _version(os_.major, os_.minor, os_.patch, os_.patch_minor) if os_ else None,
        "device": device,
        "device_brand": (brand or "")[:64] or None,
        "is_bot": bot is not None,
        "bot_category": bot.category if bot else None,
    }
    return {key: value for key, value in block.items() if value is not None}


def _version(*parts: str | None) -> str | None:
    """user-agents' ``version_string``: the leading numeric parts, dot-joined, capped at 32."""
    kept = []
    for part in parts:
        if not part:
            break
        kept.append(part)
    return ".".join(kept)[:32] or None


def user_agent_block(user_agent_string: str | None) -> dict[str, Any] | None:
    """The contract's ``enrichment.ua`` block for a User-Agent header; None when there is none.

    >>> block = user_agent_block("Mozilla/5.0 (compatible; Googlebot/2.1; "
    ...                          "+http://www.google.com/bot.html)")
    >>> block["browser"], block["device"], block["is_bot"], block["bot_category"]
    ('Googlebot', 'bot', True, 'crawler')
    """
    if not user_agent_string or user_agent_string.isspace():
        return None
    return _describe(user_agent_string[:1024]).copy()


def warm_up() -> None:
    """Compile every rule list now (~1-3 s) rather than on the first request: for a server's
    start (e.g. a gunicorn ``post_fork`` hook) or before a benchmark. Never run at import."""
    user_agent_block("Mozilla/5.0 (Linux; Android 13; SM-A546B) AppleWebKit/537.36 (KHTML, "
                     "like Gecko) Chrome/124.0 Mobile Safari/537.36")
    user_agent_block("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    _describe.cache_clear()
