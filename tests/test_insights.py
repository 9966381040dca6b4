"""Insights: the CLI and the page agree; the page draws its charts with vendored Chart.js, from the box alone."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from contextlib import closing
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import async_playwright

from edge_agent.config.agent import AgentConfig
from edge_agent.field.imports import import_customers
from edge_agent.field.insights import Lens, insights
from edge_agent.learning.uplift import visits_needed
from edge_agent.presence.checkin import make_token
from edge_agent.runtime import Agent
from edge_agent.store import connect
from edge_agent.testing.store import running_agent, seeded_config
from edge_agent.testing.wait import eventually

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"]


def with_customers(tmp_path: Path, n: int) -> AgentConfig:
    config = seeded_config(tmp_path, scoring={"holdout_pct": 50})
    path = tmp_path / "more.json"
    path.write_text(
        json.dumps([{"customer_id": f"c-{i:03d}", "display_name": f"C{i}", "consent": True} for i in range(n)])
    )
    conn = connect(config.db_path)
    assert import_customers(conn, path).ok
    conn.close()
    return config


async def shop(config: AgentConfig, url: str, n: int) -> None:
    """`n` customers check in; every third one buys something."""
    headers = {"Authorization": f"Bearer {config.http.staff_token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        for i in range(n):
            token = make_token(config.checkin.key, f"c-{i:03d}", config.store_id, int(time.time()) + 60, f"n{i}")
            async with http.post(f"{url}/api/checkin", json={"token": token}) as r:
                assert r.status == 200
            if i % 3 == 0:
                sale = {
                    "sale_id": f"S{i}",
                    "customer_ref": f"c-{i:03d}",
                    "lines": [{"sku": "X", "qty": 1, "amount": 10}],
                }
                async with http.post(f"{url}/api/pos/sales", json=sale) as r:
                    assert r.status == 200


async def test_cli_and_page_api_agree(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = with_customers(tmp_path, 30)
    async with running_agent(Agent(config)) as agent:
        await shop(config, agent.http_url or "", 30)
        await eventually(lambda: agent.stats.counters["checkins"] == 30)
        headers = {"Authorization": f"Bearer {config.http.staff_token}"}
        async with (
            aiohttp.ClientSession(headers=headers) as http,
            http.get(f"{agent.http_url}/api/insights?days=7") as r,
        ):
            page = await r.json()
        async with (
            aiohttp.ClientSession(headers=headers) as http,
            http.get(f"{agent.http_url}/api/insights?days=x") as r,
        ):
            assert r.status == 400
    result = await asyncio.to_thread(cli, "insights", "--days", "7", "--json", "--config", tmp_path / "agent.yaml")
    assert result.code == 0, result.err
    assert json.loads(result.out) == page
    conv = page["conversion"]
    assert conv["visits_decided"]["treatment"] + conv["visits_decided"]["holdout"] == 30
    assert conv["visits_converted"]["treatment"] + conv["visits_converted"]["holdout"] == 10
    assert conv["enough_data"] is False and conv["uplift"] is None  # fewer than 20 per group: no fake figure
    human = await asyncio.to_thread(cli, "insights", "--days", "7", "--config", tmp_path / "agent.yaml")
    assert "Not enough decided visits yet" in human.out and "more decided visits to tell" in human.out


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)")
async def test_the_insights_page_draws_charts_from_the_box_alone(tmp_path: Path) -> None:
    config = with_customers(tmp_path, 12)
    async with running_agent(Agent(config)) as agent, async_playwright() as pw:
        box = agent.http_url or ""
        await shop(config, box, 12)
        await eventually(lambda: agent.stats.counters["checkins"] == 12)
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        requests: list[str] = []
        errors: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await page.goto(agent.http_url or "")
        await page.fill("#token", config.http.staff_token)
        await page.click("button[type=submit]")
        await page.goto(f"{agent.http_url}/insights")
        await page.locator("#offers canvas").wait_for(timeout=15_000)
        await page.locator("#footfall canvas").wait_for(timeout=15_000)
        drawn = await page.evaluate("Object.values(Chart.instances).map(c => c.data.datasets[0].data.length)")
        assert len(drawn) == 2 and all(n >= 1 for n in drawn)  # offers and footfall charts, with data
        assert "Not enough decided visits yet" in await page.locator("#summary").inner_text()
        await page.screenshot(path=str(tmp_path / "insights.png"), full_page=True)
        await browser.close()
    assert requests and all(url.startswith(box) for url in requests), requests  # no CDN, nothing outside
    assert errors == []


def test_with_nobody_held_out_it_says_uplift_cannot_be_measured(tmp_path: Path) -> None:
    with closing(connect(tmp_path / "agent.db")) as conn:
        none_held = insights(conn, Lens(holdout_pct=0))["conversion"]
        usual = insights(conn, Lens(holdout_pct=10))["conversion"]
    assert none_held["summary"].startswith("Nobody is held out") and none_held["visits_needed"] is None
    # planned with the configured split (9 alerted per held-out visit), not with what happened so far
    assert usual["visits_needed"] == visits_needed(None, None, 0.9)
    assert "needs about" in usual["summary"] and "more decided visits to tell" in usual["summary"]
