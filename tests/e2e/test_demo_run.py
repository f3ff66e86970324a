"""``clickloop demo --events N --no-browser`` as a user runs it, and what its run must show.

One run on a fresh state dir (the README's main command, with its embedded Kafka): about a
simulated day of shop traffic, the default seed of a first run. Then:

- the command exits 0, prints the shop URL and report pages that exist, and leaves nothing
  running (its Kafka, services and shop are stopped);
- the sessions table has, for every visitor with a cookie, exactly the visits the simulator
  made; the traffic, funnel and campaign reports equal the figures computed from the
  simulator's ground truth (:mod:`tests.e2e.expected` says how crawlers and Do-Not-Track
  visitors are counted);
- the intent model the worker learned online ranks buyers better than the "cart not empty"
  rule, by progressive validation (each prediction scored before its label was learned).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from embedded import kafka_broker
from tests.e2e import expected as X
from tests.e2e.pipeline import lake_events, parquet_rows, progress, report_csv
from tracker.settings import PREFIX, PROJECT_ROOT, Settings

pytestmark = [pytest.mark.kafka, pytest.mark.spark, pytest.mark.timeout(2400)]

EVENTS = 8000  # about a simulated day: enough buyers for the model to learn from


@dataclass
class DemoRun:
    code: int
    output: str
    state: Path
    settings: Settings

    @property
    def truth(self) -> Path:
        return self.state / "demo" / "truth-1"

    def visits(self) -> list[dict[str, Any]]:
        with (self.truth / "visits.jsonl").open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]

    def summary(self) -> dict[str, Any]:
        return json.loads((self.truth / "summary.json").read_text(encoding="utf-8"))

    def traffic(self) -> dict[str, Any]:
        return json.loads((self.truth / "traffic.json").read_text(encoding="utf-8"))

    def dates(self) -> tuple[date, date]:
        summary = self.summary()
        return (datetime.fromisoformat(summary["start"]).date(),
                datetime.fromisoformat(summary["end"]).date())

    def report(self, report: str, table: str) -> list[dict[str, str]]:
        start, end = self.dates()
        return report_csv(self.settings.lake, report, start, end, table)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    state = tmp_path_factory.mktemp("e2e-demo") / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
    env[f"{PREFIX}STATE_DIR"] = str(state)
    env[f"{PREFIX}JARS_DIR"] = str(Settings.from_env().jars_dir)  # fetched once per machine
    # the README's command as printed: the bootstrap (uv sync, a no-op here), then the CLI;
    # the user's python3, not the project's own .venv (were it first on PATH)
    outside = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                              if p and Path(p).resolve() != Path(sys.prefix, "bin").resolve())
    python3 = shutil.which("python3", path=outside)
    assert python3, "the README's main command runs python3"
    command = [python3, "-m", "tracker", "demo", "--events", str(EVENTS), "--no-browser"]
    progress(f"running {' '.join(command)}")
    result = subprocess.run(command,
                            env=env, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=2200)
    progress(f"the demo exited with {result.returncode}")
    print(result.stdout[-6000:], result.stderr[-3000:], sep="\n")
    settings = Settings.from_env({f"{PREFIX}STATE_DIR": str(state)})
    yield DemoRun(result.returncode, result.stdout, state, settings)


def test_the_main_command_gets_a_new_user_to_the_shop_and_the_reports(demo_run) -> None:
    assert demo_run.code == 0, demo_run.output[-3000:]
    shop = re.search(r"^Shop:\s+(http://127\.0\.0\.1:\d+)\s*$", demo_run.output, re.M)
    assert shop, demo_run.output[-3000:]
    reports = re.findall(r"(file://\S+/report\.html)", demo_run.output)
    names = {Path(url.removeprefix("file://")).parent.parent.name for url in reports}
    assert names == {"traffic", "funnels", "paths", "campaigns", "customers"}
    for url in reports:
        page = Path(url.removeprefix("file://"))
        assert page.is_file() and "<svg" in page.read_text(encoding="utf-8"), page
    assert re.search(r"progressive ROC AUC \d\.\d{3}, over [\d,]+ labelled", demo_run.output)
    # nothing is left running: not the shop, not the embedded broker it started
    with pytest.raises(requests.ConnectionError):
        requests.get(shop.group(1), timeout=5)
    assert not kafka_broker.status(demo_run.settings).running


def test_reports_equal_the_simulated_truth(demo_run) -> None:
    assert demo_run.code == 0
    traffic = demo_run.traffic()
    assert (traffic["events_sent"], traffic["accepted"], traffic["rejected"],
            traffic["failed_requests"]) == (EVENTS, EVENTS, 0, 0)
    visits = demo_run.visits()
    lake = demo_run.settings.lake
    sessions = parquet_rows(lake / "sessions", order="visitor_id, session_start")

    # the sessions table: every cookie visitor's sessions are exactly their simulated visits
    cookie_ids = traffic["visitor_ids"]  # simulator key -> the collector's cl_vid
    assert len(set(cookie_ids.values())) == len(cookie_ids)
    by_visitor: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in sessions:
        by_visitor[row["visitor_id"]].append(row)
    simulated: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for visit in X.cookie_visits(visits):
        simulated[cookie_ids[visit["visitor"]]].append(visit)
    assert simulated  # the run had people in it
    mismatched = {
        vid: ([X.session_shape(v) for v in sorted(vs, key=lambda v: v["start"])],
              [X.row_shape(r) for r in by_visitor.get(vid, [])])
        for vid, vs in simulated.items()}
    mismatched = {k: v for k, v in mismatched.items() if v[0] != v[1]}
    assert not mismatched, list(mismatched.items())[:3]
    # crawlers are flagged; cookieless (DNT) visitors arrive complete, in at most their visits
    bot_rows = [r for r in sessions if r["is_bot"]]
    bots = demo_run.summary()["bots"]
    assert bots["events"] == bots["page_views"]  # a crawler fetches pages, nothing else...
    assert len(bot_rows) == bots["page_views"]  # ...each with an empty cookie jar
    anon = [r for r in sessions if r["visitor_id"].startswith(X.COOKIELESS) and not r["is_bot"]]
    dnt = demo_run.summary()["dnt"]
    assert sum(r["page_views"] for r in anon) == dnt["page_views"]
    assert 0 < len(anon) <= dnt["visits"]
    assert len(sessions) == len(bot_rows) + len(anon) + sum(map(len, simulated.values()))

    # the reports: cookie visits from the truth, cookieless sessions as the pipeline counted
    events = lake_events(lake)
    anon_events: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if (e["visitor_id"] or "").startswith(X.COOKIELESS):
            anon_events[e["visitor_id"]].append(e)
    reach = {}
    for s in anon:
        ordered = sorted(anon_events[s["visitor_id"]], key=lambda e: (e["ts"], e["event_id"]))
        reach[s["session_id"]] = X.funnel_reach(
            [e["event_type"] for e in ordered if s["session_start"] <= e["ts"] <= s["session_end"]])
    want = X.report_figures(visits, anon, reach)

    summary = demo_run.report("traffic", "summary")[0]
    assert (summary["visitors"], summary["sessions"], summary["page_views"],
            summary["bounce_rate_pct"]) == (
        str(want["visitors"]), str(want["sessions"]), str(want["page_views"]),
        X.pct(want["bounces"], want["sessions"]))
    sources = {r["source"]: int(r["sessions"]) for r in demo_run.report("traffic", "sources")}
    assert sources == want["by_source"]
    checkout = [int(r["sessions"]) for r in demo_run.report("funnels", "funnel_steps")
                if r["funnel"] == "Checkout"]
    assert checkout == want["funnel"]
    assert checkout[-1] > 0  # people bought
    campaigns = {r["campaign"]: (int(r["sessions"]), int(r["conversions"]), float(r["revenue"]))
                 for r in demo_run.report("campaigns", "campaigns")}
    assert campaigns == want["campaigns"]
    assert round(sum(c[2] for c in campaigns.values()), 2) == want["revenue"]


def test_the_intent_model_beats_the_cart_rule(demo_run) -> None:
    assert demo_run.code == 0
    from personalization.stores import open_store

    store = open_store(demo_run.settings)
    try:
        model = store.model_summary(demo_run.settings.personalization.consumer_group)
    finally:
        store.close()
    assert model is not None and model["positives"] > 0, model
    baseline = X.cart_baseline_auc(lake_events(demo_run.settings.lake))
    progress(f"progressive ROC AUC {model['roc_auc']} over {model['labels']} labels; "
             f"cart-not-empty rule {baseline:.4f}")
    assert model["roc_auc"] > baseline
    # the worker's own yardstick: the rule scored on exactly the model's (sampled) examples
    assert model["cart_rule_auc"] is not None and model["roc_auc"] > model["cart_rule_auc"]
    assert re.search(r"the cart-not-empty rule scores \d\.\d{3} on the same states",
                     demo_run.output)
