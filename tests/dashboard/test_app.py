"""The dashboard app through Flask's test client: login, pages, CSVs, errors, read-only."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from dashboard.app import create_app
from dashboard.command import problem
from tracker.settings import DashboardSettings

TOKEN = "correct horse battery staple"


def client(lake, token: str | None = None):
    settings = dataclasses.replace(lake.settings, dashboard=DashboardSettings(token=token))
    return create_app({"TESTING": True}, settings=settings).test_client()


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_without_a_token_pages_open_and_nothing_is_written(dashboard_lake):
    before = tree(dashboard_lake.settings.lake)
    c = client(dashboard_lake)
    page = c.get("/?start=2024-03-15&end=2024-03-28&device=mobile")
    assert page.status_code == 200
    assert b'data-kpi="sessions"' in page.data
    assert c.get("/reports/lifecycle").status_code == 200
    csv_ = c.get("/reports/lifecycle/2024-03-01_2024-03-28/rfm_segments.csv")
    assert csv_.status_code == 200
    assert csv_.data.decode().splitlines()[1] == "Champions,2,80.00,64.78"
    assert c.get("/reports/lifecycle/2024-03-01_2024-03-28/customers.csv").status_code == 200
    assert c.get("/overview/by_device.csv?start=2024-03-01&end=2024-03-28").status_code == 200
    assert tree(dashboard_lake.settings.lake) == before


def test_every_page_asks_for_the_token_when_one_is_set(dashboard_lake):
    c = client(dashboard_lake, TOKEN)
    page = c.get("/reports/lifecycle?start=2024-03-01")
    assert page.status_code == 302 and "/login?next=" in page.headers["Location"]
    denied = c.get("/overview/daily.csv")
    assert denied.status_code == 401 and denied.json == {"error": "login required",
                                                         "field": "token"}
    assert c.get("/healthz").status_code == 200
    wrong = c.post("/login", data={"token": "guess"})
    assert wrong.status_code == 401 and b"Wrong token" in wrong.data
    assert c.get("/").status_code == 302
    # a script sends the token as a bearer token
    assert c.get("/overview/daily.csv",
                 headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    # the login never redirects to another site
    away = c.post("/login?next=//evil.example/x", data={"token": TOKEN})
    assert away.status_code == 302 and away.headers["Location"] == "/"
    assert c.get("/").status_code == 200
    c.post("/logout")
    assert c.get("/").status_code == 302


def test_bad_parameters_and_unknown_things_answer_with_the_reason(dashboard_lake):
    c = client(dashboard_lake)
    page = c.get("/?start=yesterday")
    assert page.status_code == 400 and b"start: &#39;yesterday&#39; is not a date" in page.data
    data = c.get("/overview/kpis.csv?end=2024-13-01")
    assert data.status_code == 400 and data.json["field"] == "end"
    assert c.get("/reports/no_such_report").status_code == 404
    assert c.get("/overview/secrets.csv").status_code == 404
    assert c.get("/reports/lifecycle/2024-03-01_2024-03-28/..%2F..%2Fx.csv").status_code == 404
    assert c.get("/reports/lifecycle/not-a-run/summary.csv").status_code == 404
    assert c.get("/reports/lifecycle/2024-03-01_2024-03-28/nope.csv").status_code == 404


def test_a_report_without_runs_says_how_to_build_one(dashboard_lake):
    page = client(dashboard_lake).get("/reports/baskets?start=2024-03-01&end=2024-03-28")
    assert page.status_code == 200
    assert b"clickloop report --start 2024-03-01 --end 2024-03-28 --report baskets" in page.data


@pytest.mark.parametrize(("host", "token", "refused"), [
    ("127.0.0.1", None, False), ("localhost", None, False), ("::1", None, False),
    ("0.0.0.0", None, True), ("10.1.2.3", None, True), ("dash.example", None, True),
    ("0.0.0.0", TOKEN, False),
])
def test_the_command_refuses_other_interfaces_without_a_token(dashboard_lake, host, token,
                                                              refused):
    settings = dataclasses.replace(dashboard_lake.settings,
                                   dashboard=DashboardSettings(token=token))
    reason = problem(host, 8050, settings)
    assert (reason is not None) == refused
    if refused:
        assert "CLICKLOOP_DASHBOARD_TOKEN" in reason
    assert "not a TCP port" in problem("127.0.0.1", 70000, settings)


def test_the_demo_serves_the_dashboard_unless_public_without_a_token(tmp_path):
    from demo.stack import choose_endpoints
    from tracker.settings import DemoSettings, Settings

    base = Settings.from_env({}, state_dir=tmp_path)
    local = choose_endpoints(base)
    assert local.dashboard_url == f"http://127.0.0.1:{local.dashboard_port}/"
    assert local.dashboard_port not in (local.shop_port, local.collector_port, local.api_port)
    public = dataclasses.replace(base, demo=DemoSettings(shop_host="0.0.0.0"))
    assert choose_endpoints(public).dashboard_url is None
    with_token = dataclasses.replace(public, dashboard=DashboardSettings(token=TOKEN))
    assert choose_endpoints(with_token).dashboard_port is not None


def test_personalization_page_without_a_store_says_how_to_get_one(dashboard_lake):
    page = client(dashboard_lake).get("/personalization")
    assert page.status_code == 200
    assert b"no personalization store yet" in page.data
    assert not (dashboard_lake.settings.state_dir / "personalization").exists()
