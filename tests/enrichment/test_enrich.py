"""Enrichment functions: hand-written expectations, plus a differential check of the fast
user-agent parser against plain ``user_agents.parse`` on every user agent of the shared log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import user_agents

import enrichment as enrich
from enrichment import (
    Enrichers,
    RequestFacts,
    anonymise_ip,
    client_ip,
    derived_timestamp,
    enrich_event,
    geo_block,
    host_of,
    open_geo_reader,
    referrer_class,
    user_agent_block,
    utm_block,
)
from enrichment import user_agent as ua_module
from tracker.contract import validate_event

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
CITY_DB = SHARED / "geoip" / "GeoIP2-City-Test.mmdb"
COUNTRY_DB = SHARED / "geoip" / "GeoIP2-Country-Test.mmdb"
LOG = SHARED / "logs" / "apache_combined_sample.log"

CHROME_WIN = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
          "like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
IPAD = ("Mozilla/5.0 (iPad; CPU OS 12_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/12.1 Mobile/15E148 Safari/604.1")
ANDROID_TABLET = ("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like "
                  "Gecko) Chrome/120.0.0.0 Safari/537.36")
CUBOT_PHONE = ("Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/79.0.3945.136 Mobile Safari/537.36")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"


def needs(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"shared test data {path} is absent")


# --- user agent ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("ua", "expected"), [
    (CHROME_WIN, {"browser": "Chrome", "browser_version": "120.0.0", "os": "Windows",
                  "os_version": "10", "device": "desktop", "is_bot": False}),
    (IPHONE, {"browser": "Mobile Safari", "browser_version": "17.0", "os": "iOS",
              "os_version": "17.0", "device": "mobile", "device_brand": "Apple",
              "is_bot": False}),
    (IPAD, {"browser": "Mobile Safari", "browser_version": "12.1", "os": "iOS",
            "os_version": "12.2", "device": "tablet", "device_brand": "Apple", "is_bot": False}),
    (CUBOT_PHONE, {"browser": "Chrome Mobile", "browser_version": "79.0.3945", "os": "Android",
                   "os_version": "9", "device": "mobile", "device_brand": "CUBOT",
                   "is_bot": False}),
    (GOOGLEBOT, {"browser": "Googlebot", "browser_version": "2.1", "os": "Other",
                 "device": "bot", "device_brand": "Spider", "is_bot": True,
                 "bot_category": "crawler"}),
    (BINGBOT, {"browser": "bingbot", "browser_version": "2.0", "os": "Other", "device": "bot",
               "device_brand": "Spider", "is_bot": True, "bot_category": "crawler"}),
])
def test_user_agent_block_known_agents(ua, expected):
    assert user_agent_block(ua) == expected


@pytest.mark.parametrize("ua", [
    "curl/8.5.0", "Wget/1.21.4", "python-requests/2.32.3",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 "
    "Safari/537.36",
    "Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 1 subscribers)",
])
def test_non_human_clients_are_bots(ua):
    block = user_agent_block(ua)
    assert block["is_bot"] is True
    assert block["device"] == "bot"


def test_android_tablet_is_tablet():
    assert user_agent_block(ANDROID_TABLET)["device"] == "tablet"


@pytest.mark.parametrize("ua", [None, "", "   "])
def test_no_user_agent_gives_no_block(ua):
    assert user_agent_block(ua) is None


def test_parse_keeps_user_agents_api_and_caches():
    agent = enrich.parse(IPHONE)
    assert isinstance(agent, user_agents.parsers.UserAgent)
    assert agent.is_mobile and not agent.is_tablet and not agent.is_pc and not agent.is_bot
    assert agent.is_touch_capable
    assert str(agent) == "iPhone / iOS 17.0 / Mobile Safari 17.0"
    assert enrich.parse(IPHONE) is agent


def test_fast_parser_agrees_with_user_agents_on_real_log():
    """Every distinct UA of the shared Apache log: same browser, OS, device and predicates as
    uncached user_agents.parse, except where the newer rule set recognises a crawler."""
    needs(LOG)
    last_quoted = re.compile(r'"([^"]*)"\s*$')
    agents = {m.group(1) for line in LOG.read_text().splitlines()
              if (m := last_quoted.search(line))}
    assert len(agents) > 500
    disagreements = []
    for ua in sorted(agents):
        ours, theirs = ua_module.FastUserAgent(ua), user_agents.parse(ua)
        same = (ours.browser, ours.os, ours.device, ours.is_mobile, ours.is_tablet, ours.is_pc,
                ours.is_bot) == (theirs.browser, theirs.os, theirs.device, theirs.is_mobile,
                                 theirs.is_tablet, theirs.is_pc, theirs.is_bot)
        if not same:
            disagreements.append(ua)
            assert ours.device.family == "Spider" and not theirs.is_bot, ua
    assert len(disagreements) <= 5


# --- geo ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def city_reader():
    needs(CITY_DB)
    reader = open_geo_reader(CITY_DB)
    yield reader
    reader.close()


def test_geo_city_lookup(city_reader):
    assert geo_block("81.2.69.142", city_reader) == {
        "country_code": "GB", "country": "United Kingdom", "region": "England",
        "city": "London", "latitude": 51.5142, "longitude": -0.0931,
    }


def test_geo_ipv6_and_mapped_ipv4(city_reader):
    assert geo_block("2001:218::1", city_reader)["country_code"] == "JP"
    assert geo_block("::ffff:81.2.69.142", city_reader)["city"] == "London"


@pytest.mark.parametrize("ip", ["1.2.3.4", "not an ip", "", None])
def test_geo_unknown_or_invalid_gives_none(city_reader, ip):
    assert geo_block(ip, city_reader) is None


def test_no_database_configured_means_no_geo():
    assert open_geo_reader(None) is None
    assert geo_block("81.2.69.142", None) is None


def test_country_database_gives_country_only():
    needs(COUNTRY_DB)
    with open_geo_reader(COUNTRY_DB) as reader:
        assert geo_block("81.2.69.142", reader) == {"country_code": "GB",
                                                     "country": "United Kingdom"}


def test_configured_but_missing_database_fails_loudly(tmp_path):
    with pytest.raises(OSError):
        open_geo_reader(tmp_path / "missing.mmdb")


# --- IP -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("ip", "v4", "v6", "expected"), [
    ("81.2.69.142", 24, 48, "81.2.69.0"),
    ("81.2.69.142", 16, 48, "81.2.0.0"),
    ("81.2.69.142", 32, 48, "81.2.69.142"),
    ("2001:db8:abcd:12:1:2:3:4", 24, 48, "2001:db8:abcd::"),
    ("2001:db8:abcd:12:1:2:3:4", 24, 64, "2001:db8:abcd:12::"),
    ("::ffff:81.2.69.142", 24, 48, "81.2.69.0"),
    ("[2001:db8::1]", 24, 32, "2001:db8::"),
    ("fe80::1%eth0", 24, 16, "fe80::"),
    ("999.1.1.1", 24, 48, None),
    ("", 24, 48, None),
    (None, 24, 48, None),
])
def test_anonymise_ip(ip, v4, v6, expected):
    assert anonymise_ip(ip, v4, v6) == expected


@pytest.mark.parametrize(("remote", "xff", "trusted", "expected"), [
    ("10.0.0.2", None, 1, "10.0.0.2"),
    ("10.0.0.2", "81.2.69.142", 0, "10.0.0.2"),
    ("10.0.0.2", "81.2.69.142", 1, "81.2.69.142"),
    ("10.0.0.2", "6.6.6.6, 81.2.69.142", 1, "81.2.69.142"),
    ("10.0.0.2", "6.6.6.6, 81.2.69.142, 10.0.0.1", 2, "81.2.69.142"),
    ("10.0.0.2", "81.2.69.142", 3, "81.2.69.142"),
])
def test_client_ip_behind_proxies(remote, xff, trusted, expected):
    assert client_ip(remote, xff, trusted) == expected


# --- UTM, referrer ------------------------------------------------------------------------------

def test_utm_block():
    url = ("https://shop.example.com/p?utm_source=news&UTM_MEDIUM=email&utm_campaign=spring%20sale"
           "&utm_term=&utm_content=hero&utm_source=second")
    assert utm_block(url) == {"source": "news", "medium": "email", "campaign": "spring sale",
                              "content": "hero"}
    assert utm_block("https://shop.example.com/p?x=1") is None
    assert utm_block(None) is None
    assert utm_block("https://shop.example.com/?utm_source=" + "x" * 300)["source"] == "x" * 256


SHOP = "https://shop.example.com/p/1"


@pytest.mark.parametrize(("page", "referrer", "expected"), [
    (SHOP + "?gclid=abc", "https://www.google.com/", "paid"),
    (SHOP + "?fbclid=abc", "https://l.facebook.com/", "paid"),
    (SHOP + "?msclkid=abc", None, "paid"),
    (SHOP + "?utm_medium=cpc&utm_source=google", "https://www.google.com/", "paid"),
    (SHOP + "?utm_medium=paid_social", "https://www.facebook.com/", "paid"),
    (SHOP + "?utm_medium=email&utm_source=newsletter", None, "email"),
    (SHOP, "https://mail.google.com/mail/u/0/", "email"),
    (SHOP, "https://outlook.live.com/", "email"),
    (SHOP + "?utm_medium=social", None, "social"),
    (SHOP, "https://t.co/abc", "social"),
    (SHOP, "https://m.facebook.com/story", "social"),
    (SHOP, "https://www.linkedin.com/feed/", "social"),
    (SHOP, "https://www.google.co.uk/", "search"),
    (SHOP, "https://www.bing.com/search?q=shoes", "search"),
    (SHOP, "https://duckduckgo.com/", "search"),
    (SHOP, "https://yandex.ru/search", "search"),
    (SHOP + "?utm_medium=organic", None, "search"),
    (SHOP, "https://shop.example.com/cart", "internal"),
    (SHOP, "https://www.shop.example.com/", "internal"),
    ("https://www.example.com/", "https://example.com/x", "internal"),
    (SHOP, None, "direct"),
    (SHOP, "", "direct"),
    (SHOP, "-", "direct"),
    (SHOP, "https://blog.other.org/post", "other"),
    (SHOP + "?utm_source=partner", None, "other"),
    (SHOP, "android-app://com.slack", "other"),
    (SHOP, "https://notgoogle.com/", "other"),
])
def test_referrer_class(page, referrer, expected):
    assert referrer_class(page, referrer) == expected


def test_host_of():
    assert host_of("https://WWW.Example.com:8443/x") == "www.example.com"
    assert host_of("-") is None
    assert host_of("not a url") is None
    assert host_of("http://[::1/") is None


# --- time ---------------------------------------------------------------------------------------

def test_derived_timestamp_corrects_client_skew():
    # the client clock is 2 hours slow; the event happened 10 s before the batch was sent
    assert derived_timestamp("2026-11-23T07:59:50.000Z", "2026-11-23T08:00:00.000Z",
                             "2026-11-23T10:00:00.250Z") == "2026-11-23T09:59:50.250Z"


def test_derived_timestamp_handles_zones_and_missing_sent():
    assert derived_timestamp("2026-11-23T11:00:00+02:00", "2026-11-23T11:00:05+02:00",
                             "2026-11-23T09:00:10.000Z") == "2026-11-23T09:00:05.000Z"
    assert derived_timestamp("2026-11-23T07:59:50.000Z", None,
                             "2026-11-23T10:00:00.000Z") == "2026-11-23T10:00:00.000Z"


def test_derived_timestamp_never_after_receipt():
    assert derived_timestamp("2026-11-23T08:00:10.000Z", "2026-11-23T08:00:00.000Z",
                             "2026-11-23T10:00:00.000Z") == "2026-11-23T10:00:00.000Z"


def test_derived_timestamp_rejects_bad_collector_time():
    with pytest.raises(ValueError, match="collector_ts"):
        derived_timestamp(None, None, "yesterday")


# --- whole event --------------------------------------------------------------------------------

EVENT = {
    "schema_version": 1, "event_id": "0b9f4f3e-8a43-4c3e-9d59-6f1e2f3a4b5c",
    "event_type": "page_view", "client_ts": "2026-11-23T09:59:58.000Z",
    "sent_ts": "2026-11-23T10:00:00.000Z", "visitor_id": "v-1",
    "url": "https://shop.example.com/p/42?utm_source=news&utm_medium=email",
    "referrer": "https://mail.google.com/",
}


def test_enrich_event_writes_the_whole_block(city_reader):
    facts = RequestFacts(collector_ts="2026-11-23T10:00:01.000Z", source="js",
                         ip="81.2.69.142", user_agent=IPHONE)
    enriched = enrich_event({**EVENT, "enrichment": {"source": "forged"}}, facts,
                            Enrichers(geo_reader=city_reader))
    assert enriched["enrichment"] == {
        "collector_ts": "2026-11-23T10:00:01.000Z",
        "derived_ts": "2026-11-23T09:59:59.000Z",
        "source": "js",
        "ip_anon": "81.2.69.0",
        "geo": {"country_code": "GB", "country": "United Kingdom", "region": "England",
                "city": "London", "latitude": 51.5142, "longitude": -0.0931},
        "ua": {"browser": "Mobile Safari", "browser_version": "17.0", "os": "iOS",
               "os_version": "17.0", "device": "mobile", "device_brand": "Apple",
               "is_bot": False},
        "utm": {"source": "news", "medium": "email"},
        "referrer_class": "email",
        "referrer_host": "mail.google.com",
        "site": "shop.example.com",
    }
    assert {k: v for k, v in enriched.items() if k != "enrichment"} == EVENT
    assert validate_event(enriched, allow_enrichment=True) == []
    assert "81.2.69.142" not in repr(enriched)


def test_enrich_event_server_side_uses_context_user_agent_and_no_ip():
    event = {**EVENT, "event_type": "purchase", "context": {"user_agent": GOOGLEBOT}}
    del event["url"], event["referrer"]
    facts = RequestFacts(collector_ts="2026-11-23T10:00:01.000Z", source="server",
                         user_agent="clickloop-python/0.1", cookieless=True)
    block = enrich_event(event, facts)["enrichment"]
    assert block["ua"]["is_bot"] is True
    assert block["cookieless"] is True
    for absent in ("ip_anon", "geo", "utm", "referrer_class", "referrer_host", "site"):
        assert absent not in block


def test_enrich_event_does_not_mutate_its_input():
    event = {**EVENT, "enrichment": {"source": "js"}}
    before = repr(event)
    enrich_event(event, RequestFacts(collector_ts="2026-11-23T10:00:01.000Z", source="pixel"))
    assert repr(event) == before
