"""The tablet page in a real headless Chromium: sign in, see a customer arrive, accept an offer."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright, expect

from edge_agent.config.agent import AgentConfig
from edge_agent.core.events import MirrorEvent, SourceEvent
from edge_agent.presence.checkin import make_token
from edge_agent.runtime import Agent
from edge_agent.sim.adverts import arrivals
from edge_agent.sim.ble import BeaconScript, Keyframe, Scenario, SimulatedBleSource
from edge_agent.store import connect
from edge_agent.testing.sources import ScriptedSource
from edge_agent.testing.store import UUID, running_agent, seeded_config
from edge_agent.testing.wait import eventually

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The machine has no internet: keep Chromium from reaching out at all.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


async def sign_in(browser: Browser, url: str, token: str, **page_options: Any) -> Page:
    """A tablet (its own browser context, so its own session cookie) signed in with the staff token."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, **page_options)
    page = await context.new_page()
    await page.goto(url)
    await page.fill("#token", token)
    await page.click("button[type=submit]")
    return page


def fitting_room(config: AgentConfig) -> None:
    """A mirror `m1` in the fitting rooms and the wool coat in the product catalog."""
    conn = connect(config.db_path)
    conn.execute(
        "INSERT INTO devices(id, profile, transport, zone, created_at) "
        "VALUES ('m1', 'smart-mirror', 'mqtt', 'fitting-rooms', 0)"
    )
    conn.execute("INSERT INTO products(sku, title, category) VALUES ('COAT-1', 'Wool coat', 'outerwear')")
    conn.close()


class ScriptedMirror(ScriptedSource):
    """Mirror `m1` playing `script` once `go` is set (when the tablets are open)."""

    def __init__(self, *script: MirrorEvent) -> None:
        super().__init__("scripted-mirror", self._play)
        self.script = script
        self.go = asyncio.Event()

    async def _play(self) -> AsyncIterator[SourceEvent]:
        await self.go.wait()
        for event in self.script:
            yield event


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)")
async def test_staff_sign_in_see_alert_and_accept(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    # Ada walks in a few seconds after the page is open, so the alert arrives live over SSE.
    source = SimulatedBleSource(arrivals(f"{UUID}:100:1", first_at_s=3, stay_s=60), speed=1)
    async with running_agent(Agent(config, [source])) as agent, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = await browser.new_page(viewport={"width": 1280, "height": 800})  # a 10-inch tablet, landscape
        await page.goto(agent.http_url or "")
        await page.fill("#token", config.http.staff_token)
        await page.click("button[type=submit]")
        await page.wait_for_selector("#live:not(.down)", timeout=15_000)
        card = page.locator(".card").first
        await card.wait_for(timeout=20_000)
        assert await card.locator("h2").inner_text() == "Ada Lovelace"
        assert (await card.locator(".tier").inner_text()).lower() == "gold"
        text = await card.inner_text()
        assert "visits" in text and text.count("visits in") <= 1  # said once: in the hint or the facts, not both
        offers = card.locator(".offer")
        accept = card.locator("button[data-action=accepted]")
        assert await accept.is_disabled() and "primary" not in (await accept.get_attribute("class") or "")
        assert await offers.count() == 3
        assert "15% off running shoes" in await offers.first.inner_text()
        await offers.nth(1).click()  # staff pick the second offer
        picked = await offers.nth(1).get_attribute("data-offer-id")
        assert await accept.is_enabled() and "primary" in (await accept.get_attribute("class") or "")
        await page.screenshot(path=str(tmp_path / "tablet.png"), full_page=True)
        await card.locator("button[data-action=accepted]").click()
        await card.locator(".status").wait_for(timeout=10_000)
        assert await card.locator(".status").inner_text() == "Offer accepted"
        await browser.close()

    def stored() -> tuple[str, str] | None:
        db = connect(config.db_path)
        try:
            return db.execute("SELECT action, action_offer_id FROM alerts WHERE customer_id = 'c-ada'").fetchone()
        finally:
            db.close()

    await eventually(lambda: stored() == ("accepted", picked))
    assert (tmp_path / "tablet.png").stat().st_size > 10_000


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)")
async def test_a_page_on_another_port_cannot_act_for_a_signed_in_tablet(tmp_path: Path) -> None:
    """Cross-port CSRF: SameSite does not separate ports, so the API checks Origin and Content-Type."""
    config = seeded_config(tmp_path)
    source = SimulatedBleSource(arrivals(f"{UUID}:100:1", first_at_s=0.2, stay_s=60), speed=1)
    async with running_agent(Agent(config, [source])) as agent, async_playwright() as pw:
        await eventually(lambda: bool(agent.runtime.hub.recent()))
        alert_id = agent.runtime.hub.recent()[0].alert.alert_id
        evil = web.Application()
        form = (
            f'<form id="f" method="POST" enctype="text/plain" action="{agent.http_url}/api/alerts/{alert_id}/ack">'
            '<input name=\'{"action":"dismissed","x":"\' value=\'"}\'></form>'
            "<script>document.getElementById('f').submit()</script>"
        )

        async def page_of_evil(_: web.Request) -> web.Response:
            return web.Response(text=form, content_type="text/html")

        evil.router.add_get("/", page_of_evil)
        runner = web.AppRunner(evil)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        evil_url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = await browser.new_page()
        await page.goto(agent.http_url or "")
        await page.fill("#token", config.http.staff_token)
        await page.click("button[type=submit]")
        await page.wait_for_selector("#live:not(.down)", timeout=15_000)
        async with page.expect_response(lambda r: "/ack" in r.url) as answer:
            await page.goto(evil_url)
        assert (await answer.value).status in (403, 415)
        await browser.close()
        await runner.cleanup()
    db = connect(config.db_path)
    assert db.execute("SELECT action FROM alerts WHERE alert_id = ?", (alert_id,)).fetchone() == (None,)
    assert db.execute("SELECT COUNT(*) FROM alert_actions").fetchone() == (0,)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)")
async def test_a_size_request_reaches_two_tablets_and_one_on_my_way_takes_it_from_both(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    fitting_room(config)
    mirror = ScriptedMirror(MirrorEvent("m1", "size_request", "s-1", time.time(), "COAT-1", None, "M"))
    async with running_agent(Agent(config, [mirror])) as agent, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        pages = [await sign_in(browser, agent.http_url or "", config.http.staff_token) for _ in range(2)]
        for page in pages:
            await page.wait_for_selector("#live:not(.down)", timeout=15_000)
        mirror.go.set()
        cards = [page.locator(".card.size-request").first for page in pages]
        for card in cards:
            await card.wait_for(timeout=15_000)
            assert "Size M · Wool coat" in await card.locator("h2").inner_text()
            assert "fitting rooms" in await card.locator(".zone").inner_text()
        await pages[0].screenshot(path=str(tmp_path / "size-request.png"))
        await cards[0].locator("button[data-action=ack]").click()
        for card in cards:  # the second tablet sees it taken too, live
            await card.locator(".status").wait_for(timeout=10_000)
            assert await card.locator(".status").inner_text() == "Someone is on the way"
        await browser.close()
    assert connect(config.db_path).execute("SELECT COUNT(*) FROM alert_actions").fetchone() == (1,)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)")
async def test_a_customer_who_leaves_fades_into_the_history_list(tmp_path: Path) -> None:
    config = seeded_config(tmp_path, presence={"exit_min_s": 2, "missed_intervals": 2})
    source = SimulatedBleSource(arrivals(f"{UUID}:100:1", first_at_s=3, stay_s=4), speed=1)
    async with running_agent(Agent(config, [source])) as agent, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = await sign_in(browser, agent.http_url or "", config.http.staff_token)
        live = page.locator("#alerts .card").first
        await live.wait_for(timeout=20_000)  # Ada walks in: a live card
        gone = page.locator("#history .card.left").first
        await gone.wait_for(timeout=30_000)  # she walks out: the same card, faded, under "Left the store"
        assert await gone.locator("h2").inner_text() == "Ada Lovelace"
        assert await gone.locator(".zone").inner_text() == "left the store"
        assert await page.locator("#alerts .card").count() == 0
        await browser.close()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)")
async def test_the_card_shows_what_the_customer_tries_at_the_mirror_live(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    fitting_room(config)
    token = make_token(config.checkin.key, "c-ada", config.store_id, int(time.time()) + 60, "mirror")
    mirror = ScriptedMirror(*(MirrorEvent("m1", k, "s-9", time.time(), "COAT-1", "c-ada") for k in ("try_on", "like")))
    async with running_agent(Agent(config, [mirror])) as agent, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = await sign_in(browser, agent.http_url or "", config.http.staff_token)
        await page.wait_for_selector("#live:not(.down)", timeout=15_000)
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{agent.http_url}/api/checkin", json={"token": token}) as r,
        ):
            assert r.status == 200
        card = page.locator("#alerts .card").first
        await card.wait_for(timeout=15_000)
        mirror.go.set()
        activity = card.locator(".activity")
        await activity.wait_for(timeout=15_000)
        await page.wait_for_function(
            "document.querySelector('.activity').textContent.includes('Liked')", timeout=15_000
        )
        assert await activity.inner_text() == "Tried: Wool coat · Liked: Wool coat"
        await browser.close()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)")
async def test_the_card_follows_the_customer_to_the_fitting_rooms(tmp_path: Path) -> None:
    config = seeded_config(
        tmp_path, zones=[{"id": "entrance", "scanners": ["door"]}, {"id": "fitting-rooms", "scanners": ["back"]}]
    )
    frames = [
        Keyframe(t=2, rssi=-55, scanner="door"), Keyframe(t=10, rssi=-55, scanner="door"),
        Keyframe(t=14, rssi=-95, scanner="door"), Keyframe(t=60, rssi=-95, scanner="door"),
        Keyframe(t=2, rssi=-95, scanner="back"), Keyframe(t=10, rssi=-95, scanner="back"),
        Keyframe(t=14, rssi=-55, scanner="back"), Keyframe(t=60, rssi=-55, scanner="back"),
    ]  # fmt: skip
    ada = BeaconScript(address="AA:BB:CC:00:00:01", ibeacon=f"{UUID}:100:1", interval_s=0.5, path=frames)
    source = SimulatedBleSource(Scenario(duration_s=60, beacons=[ada]), speed=1)
    async with running_agent(Agent(config, [source])) as agent, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = await sign_in(browser, agent.http_url or "", config.http.staff_token)
        zone = page.locator("#alerts .card .zone").first
        await zone.wait_for(timeout=20_000)
        assert await zone.inner_text() == "entrance"
        await expect(zone).to_have_text("fitting rooms", timeout=30_000)  # the same card, updated live over SSE
        assert await page.locator("#alerts .card").count() == 1
        await browser.close()
