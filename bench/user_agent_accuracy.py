"""Bot recall, false positives and device-type accuracy of ``user_agent_block`` on real lists.

Lists the rules were tuned on and lists held out (see ``tests/enrichment/ua_lists.py``) are
printed apart. Side by side, the same figures for the reference: plain ``user_agents.parse``
(``is_bot``; ``is_tablet`` / ``is_mobile`` / ``is_pc``), what the collector used before.

    .venv/bin/python bench/user_agent_accuracy.py [--show 10]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import user_agents  # noqa: E402

from enrichment import user_agent_block  # noqa: E402
from tests.enrichment import ua_lists  # noqa: E402

CONTRACT_TO_TYPE = {"mobile": "smartphone", "tablet": "tablet", "desktop": "desktop"}


def ours(ua: str) -> tuple[bool, str]:
    block = user_agent_block(ua) or {}
    return bool(block.get("is_bot")), CONTRACT_TO_TYPE.get(block.get("device", ""), "other")


def reference(ua: str) -> tuple[bool, str]:
    agent = user_agents.parse(ua)
    kind = ("tablet" if agent.is_tablet else "smartphone" if agent.is_mobile
            else "desktop" if agent.is_pc else "other")
    return agent.is_bot, kind


def rate(pairs, test: Callable[[str, object], bool]) -> tuple[float, list[str]]:
    misses = [ua for ua, label in pairs if not test(ua, label)]
    return 1 - len(misses) / max(len(pairs), 1), misses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", type=int, default=0, help="print up to N misses per line")
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()
    uap = ua_lists.uap_core()
    bots = [
        ("tuned", "Matomo bot fixtures", ua_lists.matomo_bots()),
        ("tuned", "crawler-user-agents instances", ua_lists.crawler_list_instances()),
        ("held out", "uap-core Spider", [(u, b) for u, b in uap if b]),
    ]
    devices = [
        ("tuned", "Matomo device fixtures", ua_lists.matomo_devices()),
        ("held out", "Intoli user-agents", ua_lists.intoli_devices()),
        ("held out", "fake-useragent browsers", ua_lists.fake_useragent_devices()),
    ]
    people = [
        ("tuned", "Matomo device fixtures", [(u, False) for u, _ in devices[0][2]]),
        ("held out", "uap-core non-Spider", [(u, b) for u, b in uap if not b]),
        ("held out", "Intoli user-agents", [(u, False) for u, _ in devices[1][2]]),
        ("held out", "fake-useragent browsers", [(u, False) for u, _ in devices[2][2]]),
        ("tuned", "old and text browsers", [(u, False) for u in ua_lists.OLD_AND_TEXT_BROWSERS]),
    ]
    engines = [("ours", ours)] + ([] if args.no_reference else [("user_agents", reference)])
    header = f"{'':9} {'list':32} {'n':>6}" + "".join(f" {name:>12}" for name, _ in engines)
    for title, groups, test in (
        ("bot recall (goal >= 0.95)", bots, lambda f, ua, label: f(ua)[0]),
        ("people not flagged, 1 - false positives (goal >= 0.995; old/text >= 0.99)", people,
         lambda f, ua, label: not f(ua)[0]),
        ("device type accuracy, desktop/smartphone/tablet (goal >= 0.95)", devices,
         lambda f, ua, label: f(ua)[1] == label),
    ):
        print(f"\n{title}\n{header}")
        for split, name, pairs in groups:
            cells, shown = [], []
            for engine, fn in engines:
                value, misses = rate(pairs, lambda ua, label, fn=fn, test=test: test(fn, ua, label))
                cells.append(f" {value:12.4f}")
                if engine == "ours":
                    shown = misses[:args.show]
            print(f"{split:9} {name:32} {len(pairs):6}" + "".join(cells))
            for ua in shown:
                print(f"    miss: {ua[:150]}  -> {ours(ua)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
