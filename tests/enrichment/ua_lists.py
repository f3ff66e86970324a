"""Real, labelled user-agent lists for measuring bot and device detection.

Each loader answers a list of (user agent, label) pairs, deduplicated, from a list maintained
outside this project (installed with a dependency, in ``../shared/data``, or a licensed slice
under ``tests/enrichment/data``). Bot labels are True/False; device labels are desktop /
smartphone / tablet (the contract's ``mobile`` is a smartphone; a phablet counts as one).

Which list tunes and which measures (``bench/user_agent_accuracy.py`` prints both):

- tuned on: Matomo's fixtures (``device-detector``'s tests: bots, devices) and
  ``crawler-user-agents``' instances;
- held out: uap-core's device test cases (``Spider`` family = bot, in shared data), Intoli's
  ``user-agents`` and ``fake-useragent``'s browser list (slices in ``data/``), none of which
  shaped a rule.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import yaml_rs

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "data" / "user-agents"
UAP_DEVICE = SHARED / "uap-core-test_device.yaml.gz"
DEVICE_TYPES = ("desktop", "smartphone", "tablet")
MATOMO_DEVICE_TYPE = {"desktop": "desktop", "smartphone": "smartphone", "phablet": "smartphone",
                      "tablet": "tablet"}
UAP_STRING = re.compile(r"^\s*- user_agent_string: (?:'((?:[^']|'')*)'|\"((?:[^\"\\]|\\.)*)\")"
                        r"\s*\n\s*family: (?:'((?:[^']|'')*)'|\"([^\"]*)\"|(\S.*))$", re.M)


def _unique(pairs: Iterable[tuple[str, object]]) -> list[tuple[str, object]]:
    seen: dict[str, object] = {}
    for ua, label in pairs:
        if ua and ua not in seen:
            seen[ua] = label
    return list(seen.items())


def _matomo_fixtures() -> Path:
    return Path(str(resources.files("device_detector").joinpath("tests", "fixtures",
                                                                "upstream")))


def matomo_bots() -> list[tuple[str, bool]]:
    """Matomo's bot fixtures (~1,350 real bot UAs)."""
    entries = yaml_rs.loads((_matomo_fixtures() / "bots.yml").read_text(encoding="utf-8"))
    return _unique((str(e["user_agent"]), True) for e in entries)


def matomo_devices() -> list[tuple[str, str]]:
    """Matomo's device fixtures typed desktop / smartphone (phablet) / tablet (~30k)."""
    pairs = []
    for path in sorted(_matomo_fixtures().glob("*.yml")):
        if not path.name.startswith(("desktop", "smartphone", "phablet", "tablet")):
            continue
        for entry in yaml_rs.loads(path.read_text(encoding="utf-8")):
            kind = MATOMO_DEVICE_TYPE.get(str((entry.get("device") or {}).get("type")))
            if kind:
                pairs.append((str(entry["user_agent"]), kind))
    return _unique(pairs)


def crawler_list_instances() -> list[tuple[str, bool]]:
    """The example UAs that ``crawler-user-agents`` keeps beside each pattern (~2,100)."""
    entries = json.loads(resources.files("crawleruseragents")
                         .joinpath("crawler-user-agents.json").read_text(encoding="utf-8"))
    return _unique((ua, True) for entry in entries for ua in entry.get("instances") or ())


def uap_core() -> list[tuple[str, bool]]:
    """uap-core's device test cases: True for the ``Spider`` family (held out)."""
    text = gzip.decompress(UAP_DEVICE.read_bytes()).decode("utf-8")
    pairs = []
    for match in UAP_STRING.finditer(text):
        single, double, fam1, fam2, fam3 = match.groups()
        ua = single.replace("''", "'") if single is not None else \
            double.encode().decode("unicode_escape")
        family = fam1.replace("''", "'") if fam1 is not None else (fam2 or fam3 or "")
        pairs.append((ua, family == "Spider"))
    return _unique(pairs)


def _data_slice(name: str) -> list[tuple[str, str]]:
    text = gzip.decompress((HERE / "data" / name).read_bytes()).decode("utf-8")
    rows = (line.split("\t", 1) for line in text.splitlines() if line)
    return _unique((ua, "smartphone" if kind == "mobile" else kind) for kind, ua in rows)


def intoli_devices() -> list[tuple[str, str]]:
    """Intoli ``user-agents`` (npm, BSD-2-Clause): real browsers with their device category."""
    return _data_slice("intoli-user-agents.tsv.gz")


def fake_useragent_devices() -> list[tuple[str, str]]:
    """``fake-useragent``'s browser list (PyPI, Apache-2.0): real browsers with a type."""
    return _data_slice("fake-useragent-browsers.tsv.gz")


# Old and text browsers: people too. Hand-written from those browsers' documented UA formats.
OLD_AND_TEXT_BROWSERS = [
    "Lynx/2.8.9rel.1 libwww-FM/2.14 SSL-MM/1.4.1 GNUTLS/3.6.5",
    "Lynx/2.8.5rel.1 libwww-FM/2.15FC SSL-MM/1.4.1c OpenSSL/0.9.7e-dev",
    "Lynx/2.9.0dev.6 libwww-FM/2.14 SSL-MM/1.4.1 OpenSSL/1.1.1j-dev",
    "Lynx/2.8.7rel.2 libwww-FM/2.14 SSL-MM/1.4.1 OpenSSL/1.0.0a",
    "Lynx/2.9.2 libwww-FM/2.14 SSL-MM/1.4.1 GNUTLS/3.7.9",
    "NCSA_Mosaic/2.7b5 (X11;Linux 2.6.7 i686) libwww/2.12 modified",
    "NCSA_Mosaic/2.0 (Windows 3.1)",
    "NCSA Mosaic/1.0 (X11;SunOS 4.1.4 sun4m) libwww/2.12",
    "Links (2.1pre23; Linux 3.5.0 i686; 237x63)",
    "Links (2.29; Linux 6.1.0-13-amd64 x86_64; GNU C 12.2; text)",
    "ELinks/0.12~pre6-1ubuntu1 (textmode; Ubuntu; Linux 3.11.0-13-generic i686; 100x25-2)",
    "ELinks (0.4pre5; Linux 2.6.10-ac7 i686; 80x33)",
    "w3m/0.5.3+git20230121",
    "w3m/0.5.2",
    "Dillo/3.0.5",
    "NetSurf/3.10 (Linux)",
    "Amiga-AWeb/3.4.167SE",
    "AmigaVoyager/3.2 (AmigaOS/MC680x0)",
    "IBrowse/2.5.4demo (Amiga; AmigaOS 3.1.4; Build 25.96 68K)",
    "IBrowse/2.4demo (AmigaOS 3.9; 68K)",
    "Mozilla/5.0 (compatible; IBrowse 3.0; AmigaOS4.0)",
    "Mozilla/6.0 (compatible; MSIE 7.01; Amiga-AWeb)",
    "Mozilla/5.0 (AmigaOS; U; AmigaOS 1.3; en-US; rv:1.8.1.21) Gecko/20090303 Timberwolf/2.0",
    "Mozilla/5.0 (Amiga; PowerPC AmigaOS 4.1; Odyssey Web Browser; rv:1.23) "
    "AppleWebKit/538.1 (KHTML, like Gecko) OWB/1.23 Safari/538.1",
    "Mozilla/3.0 (compatible; NetPositive/2.2.1; BeOS)",
    "Mozilla/4.08 (Charon; Inferno)",
    "Mozilla/5.0 (compatible; Konqueror/3.2; Linux) (KHTML, like Gecko)",
    "Mozilla/2.02 (Macintosh; I; PPC)",
    "Mozilla/4.0 (compatible; MSIE 5.0; Mac_PowerPC)",
    "Mozilla/3.01 (Win95; I)",
    "Opera/9.80 (J2ME/MIDP; Opera Mini/5.1.21214/28.2725; U; en) Presto/2.8.119 Version/11.10",
    "Mozilla/5.0 (Windows NT 6.3; WOW64; Trident/7.0; TNJB; rv:11.0) like Gecko",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; MASBJS; rv:11.0) like Gecko",
    "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; MAARJS; rv:11.0) like Gecko",
]
