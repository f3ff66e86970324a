"""Who the simulated visitors are, technically: devices, real user agents, screens, places, bots.

The user agents are real strings of current browsers and crawlers, so the collector's
user-agent parsing and bot flag see exactly what they would see in production (the tests check
that ``user_agents`` classifies every one as the device listed here). IP addresses come from the
networks in MaxMind's GeoIP2 *test* databases (``../shared/data/geoip``), so a demo that points the
collector at those databases shows real-looking countries and cities.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Device:
    """One browser on one kind of device, with the context the snippet would report."""

    kind: str  # desktop | mobile | tablet (the contract's enrichment.ua.device)
    browser: str
    user_agent: str
    screen: tuple[int, int]
    viewport: tuple[int, int]


@dataclass(frozen=True)
class Crawler:
    """A crawler. ``renders_js`` crawlers run the snippet; the others only fetch the pixel."""

    name: str
    user_agent: str
    renders_js: bool
    ip_prefix: str  # the crawler's own network (a /24), e.g. Google's 66.249.66.


DESKTOP = (
    Device("desktop", "Chrome",
           "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.0.0 Safari/537.36", (1920, 1080), (1903, 947)),
    Device("desktop", "Edge",
           "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67", (1536, 864), (1519, 730)),
    Device("desktop", "Firefox",
           "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
           (1920, 1080), (1903, 960)),
    Device("desktop", "Safari",
           "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
           "Gecko) Version/17.4.1 Safari/605.1.15", (1440, 900), (1440, 789)),
    Device("desktop", "Chrome",
           "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
           "Gecko) Chrome/124.0.0.0 Safari/537.36", (1728, 1117), (1728, 982)),
    Device("desktop", "Firefox",
           "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
           (2560, 1440), (2543, 1319)),
)

MOBILE = (
    Device("mobile", "Mobile Safari",
           "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
           "(KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1", (390, 844), (390, 664)),
    Device("mobile", "Mobile Safari",
           "Mozilla/5.0 (iPhone; CPU iPhone OS 16_7_7 like Mac OS X) AppleWebKit/605.1.15 "
           "(KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1", (375, 667), (375, 553)),
    Device("mobile", "Chrome Mobile",
           "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.6367.82 Mobile Safari/537.36", (384, 832), (384, 712)),
    Device("mobile", "Chrome Mobile",
           "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.6367.82 Mobile Safari/537.36", (412, 915), (412, 794)),
    Device("mobile", "Samsung Internet",
           "Mozilla/5.0 (Linux; Android 13; SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) "
           "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36", (384, 854), (384, 726)),
)

TABLET = (
    Device("tablet", "Mobile Safari",
           "Mozilla/5.0 (iPad; CPU OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
           "Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1", (820, 1180), (820, 1106)),
    Device("tablet", "Chrome",
           "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.6367.82 Safari/537.36", (800, 1280), (800, 1184)),
)

DEVICES = {"desktop": DESKTOP, "mobile": MOBILE, "tablet": TABLET}
DEVICE_SHARES = (("desktop", 0.52), ("mobile", 0.40), ("tablet", 0.08))

CRAWLERS = (
    Crawler("Googlebot",
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
            "like Gecko) Chrome/124.0.6367.118 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
            "+http://www.google.com/bot.html)", True, "66.249.66."),
    Crawler("Googlebot",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", True,
            "66.249.66."),
    Crawler("bingbot", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            True, "157.55.39."),
    Crawler("AhrefsBot", "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
            False, "54.36.148."),
    Crawler("YandexBot", "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", False,
            "5.255.231."),
    Crawler("SemrushBot",
            "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", False,
            "185.191.171."),
)

# (network prefix, first host, host count, ISO country, language, time zone): networks of the
# MaxMind test databases, weighted towards a European shop's audience.
PLACES = (
    ("81.2.69.", 160, 32, "GB", "en-GB", "Europe/London", 0.30),
    ("2.2.3.", 1, 254, "GB", "en-GB", "Europe/London", 0.12),
    ("89.160.20.", 128, 127, "SE", "sv-SE", "Europe/Stockholm", 0.22),
    ("214.78.120.", 1, 254, "US", "en-US", "America/Los_Angeles", 0.16),
    ("214.0.1.", 1, 254, "AU", "en-AU", "Australia/Melbourne", 0.08),
    ("214.0.0.", 1, 254, "SG", "en-SG", "Asia/Singapore", 0.07),
    ("175.16.199.", 1, 254, "CN", "zh-CN", "Asia/Shanghai", 0.05),
)


@dataclass(frozen=True)
class Place:
    ip: str
    country: str
    language: str
    timezone: str


def pick_device(rng: random.Random) -> Device:
    kind = weighted(rng, DEVICE_SHARES)
    return rng.choice(DEVICES[kind])


def pick_place(rng: random.Random) -> Place:
    row = rng.choices(PLACES, weights=[p[-1] for p in PLACES])[0]
    prefix, first, count, country, language, tz, _ = row
    return Place(f"{prefix}{first + rng.randrange(count)}", country, language, tz)


def pick_crawler(rng: random.Random) -> Crawler:
    return rng.choice(CRAWLERS)


def weighted(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    """One name from ``(name, weight)`` pairs."""
    names = [name for name, _ in options]
    return rng.choices(names, weights=[w for _, w in options])[0]
