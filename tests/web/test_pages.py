"""Every page in a real Chromium: hostile strings shown as typed and never run, a strict CSP, a card
that follows the sale and the moment, and layouts that fit a phone, a tablet and a desktop."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from edge_agent.config.agent import AgentConfig
from edge_agent.core.events import MirrorEvent, Sale, SaleLine, SourceEvent
from edge_agent.presence.checkin import make_token
from edge_agent.runtime import Agent
from edge_agent.sim.broker import MosquittoBroker
from edge_agent.store import connect
from edge_agent.testing.sources import ScriptedSource
from edge_agent.testing.store import running_agent, seeded_config

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
EVIL = '<img src=x onerror="alert(9)"><script>alert(8)</script>"\'&amp;[/x]'
WIDTHS = ((390, 844), (768, 1024), (1280, 800))


class Played(ScriptedSource):
    """Inputs played once `go` is set (once the tablets are open)."""

    def __init__(self, *events: SourceEvent) -> None:
        super().__init__("played", self._play)
        self.events = events
        self.go = asyncio.Event()

    async def _play(self) -> Any:
        await self.go.wait()
        for event in self.events:
            yield event
            await asyncio.sleep(0.2)


def hostile_store(config: AgentConfig) -> None:
    """Names, titles, SKUs, sizes and device ids that try to be HTML, from every input there is."""
    with connect(config.db_path) as conn:
        conn.execute("UPDATE customers SET display_name = ? WHERE customer_id = 'c-ada'", (f"Ada {EVIL}",))
        conn.execute("UPDATE offers SET title = ? WHERE offer_id = 'o-shoes'", (f"Shoes {EVIL}",))
        conn.execute("INSERT INTO devices(id, profile, transport, zone, created_at) "
                     "VALUES ('m1', 'smart-mirror', 'mqtt', 'fitting-rooms', 0)")  # fmt: skip
        conn.execute("INSERT INTO products(sku, title, category) VALUES (?, ?, 'outerwear')", (EVIL, f"Coat {EVIL}"))
        conn.execute("INSERT INTO products(sku, title, category) VALUES ('B', ?, 'accessories')", (f"Bag {EVIL}",))
        for n in range(3):
            conn.execute("INSERT INTO cooccurrence(source, a, b, ts) VALUES (?, ?, 'B', ?)",
                     (f"s{n}", EVIL, time.time()))  # fmt: skip


async def open_tablet(browser: Browser, url: str, token: str, size: tuple[int, int] = (1280, 800)) -> Page:
    context = await browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = await context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), asyncio.ensure_future(d.dismiss())))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    await page.goto(url)
    await page.fill("#token", token)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#live:not(.down)", timeout=15_000)
    return page


async def checkin(config: AgentConfig, url: str, customer: str, nonce: str) -> None:
    token = make_token(config.checkin.key, customer, config.store_id, int(time.time()) + 60, nonce)
    async with aiohttp.ClientSession() as http, http.post(f"{url}/api/checkin", json={"token": token}) as r:
        assert r.status == 200


async def no_sideways_scroll(page: Page) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@needs_chromium
async def test_hostile_strings_are_shown_as_typed_and_never_run(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    hostile_store(config)
    played = Played(
        MirrorEvent("m1", "try_on", "s-1", time.time(), EVIL, "c-ada"),
        MirrorEvent("m1", "size_request", "s-1", time.time(), EVIL, "c-ada", size=f"M{EVIL}"),
    )
    async with running_agent(Agent(config, [played])) as agent, async_playwright() as pw:
        url = agent.http_url or ""
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = await open_tablet(browser, url, config.http.staff_token)
        await checkin(config, url, "c-ada", "evil")
        card = page.locator("#alerts .card:not(.size-request)").first
        await card.wait_for(timeout=15_000)
        played.go.set()
        request = page.locator(".card.size-request").first
        await request.wait_for(timeout=15_000)
        await expect(card.locator(".activity")).to_contain_text(f"Tried: Coat {EVIL}", timeout=15_000)
        assert await card.locator("h2").inner_text() == f"Ada {EVIL}"
        assert f"Shoes {EVIL}" in await card.locator(".offers").inner_text()
        assert f"Size M{EVIL} · Coat {EVIL}" == await request.locator("h2").inner_text()
        assert await page.locator("img, script:not([src])").count() == 0  # nothing became markup
        await page.goto(f"{url}/insights")
        pairs = page.locator("#pairs li").first
        await pairs.wait_for(timeout=15_000)
        assert f"Coat {EVIL} + Bag {EVIL}" in await pairs.inner_text()
        assert await page.locator("main img, main script").count() == 0
        await page.screenshot(path=str(tmp_path / "hostile-insights.png"), full_page=True)
        assert page.dialogs == []  # type: ignore[attr-defined]
        await browser.close()


async def test_every_page_has_a_strict_csp(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    async with running_agent(Agent(config)) as agent, aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {config.http.staff_token}"}
        for path in ("/", "/insights", "/login", "/api/status", "/healthz", "/assets/tablet.js"):
            method = http.post if path == "/login" else http.get
            async with method(f"{agent.http_url}{path}", headers=headers, allow_redirects=False) as r:
                csp = r.headers["Content-Security-Policy"]
                assert "'unsafe-inline'" not in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
        for page in ("tablet.html", "insights.html", "login.html"):
            text = (Path(__file__).parents[2] / "edge_agent" / "web" / "static" / page).read_text()
            assert "<script>" not in text and "<style" not in text and " style=" not in text and "onclick" not in text


@needs_chromium
async def test_the_card_shows_the_purchase_and_the_sale_closes_the_size_request(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    config = seeded_config(tmp_path, mqtt={"url": mqtt_broker.url})
    with connect(config.db_path) as conn:
        conn.execute("INSERT INTO devices(id, profile, transport, zone, created_at) "
                     "VALUES ('m1', 'smart-mirror', 'mqtt', 'fitting-rooms', 0)")  # fmt: skip
        conn.execute("INSERT INTO devices(id, profile, transport, zone, created_at) "
                     "VALUES ('till-1', 'pos-terminal', 'mqtt', 'tills', 0)")  # fmt: skip
        conn.execute("INSERT INTO products(sku, title, category) VALUES ('COAT-1', 'Wool coat', 'outerwear')")
    played = Played(
        MirrorEvent("m1", "size_request", "s-1", time.time(), "COAT-1", "c-ada", size="M"),
        Sale("till-1", "sale-1", time.time(), (SaleLine("COAT-1", 1, 240.0),), "c-ada"),
    )
    async with running_agent(Agent(config, [played])) as agent, async_playwright() as pw:
        url = agent.http_url or ""
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = await open_tablet(browser, url, config.http.staff_token)
        await checkin(config, url, "c-ada", "sale")
        card = page.locator("#alerts .card:not(.size-request)").first
        await card.wait_for(timeout=15_000)
        assert await page.locator("#history").is_hidden()  # nobody has left: no empty heading
        played.go.set()
        await expect(card.locator(".bought")).to_have_text("Bought: Wool coat, 240.00", timeout=15_000)
        request = page.locator(".card.size-request").first
        await expect(request.locator(".status")).to_have_text("Bought at the till", timeout=15_000)
        await browser.close()


@needs_chromium
async def test_offers_follow_the_moment(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    """Mirror evidence during the visit re-ranks the card's offers: live on the tablet, and on MQTT."""
    config = seeded_config(tmp_path, mqtt={"url": mqtt_broker.url})
    with connect(config.db_path) as conn:
        conn.execute("INSERT INTO devices(id, profile, transport, zone, created_at) "
                     "VALUES ('m1', 'smart-mirror', 'mqtt', 'fitting-rooms', 0)")  # fmt: skip
        for sku in ("COAT-1", "COAT-2", "COAT-3"):
            conn.execute("INSERT INTO products(sku, title, category) VALUES (?, 'Coat', 'outerwear')", (sku,))
        conn.execute("INSERT INTO products(sku, title, category) VALUES ('RUN-1', 'Runner', 'shoes')")
    evidence = [MirrorEvent("m1", k, "s-1", time.time(), sku, "c-ada")
                for sku in ("COAT-1", "COAT-2", "COAT-3") for k in ("try_on", "like")]  # fmt: skip
    evidence.append(MirrorEvent("m1", "dislike", "s-1", time.time(), "RUN-1", "c-ada"))
    played = Played(*evidence)
    async with (
        running_agent(Agent(config, [played])) as agent,
        async_playwright() as pw,
        aiomqtt.Client("127.0.0.1", mqtt_broker.port) as staff,
    ):
        await staff.subscribe(f"{config.topic_prefix}/alerts", qos=1)
        url = agent.http_url or ""
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = await open_tablet(browser, url, config.http.staff_token)
        await checkin(config, url, "c-ada", "moment")  # Ada likes shoes, says the CRM
        first = page.locator("#alerts .card .offer b").first
        await first.wait_for(timeout=15_000)
        assert "shoes" in (await first.inner_text()).lower()
        played.go.set()  # ... and now tries on and likes coats, and dislikes the runners
        updates: list[dict[str, Any]] = []
        async with asyncio.timeout(20):  # each piece of evidence may re-rank; the coats win once seen
            async for message in staff.messages:
                body = json.loads(message.payload)  # type: ignore[arg-type]
                if body.get("kind") == "offers_updated":
                    updates.append(body)
                    if body["offers"][0]["offer_id"] != "o-shoes":
                        break
        assert all(set(u) == {"kind", "alert_id", "offers"} for u in updates)
        assert body["offers"][0]["offer_id"] != "o-shoes"  # the coat she is trying on outranks what the CRM said
        await expect(first).to_have_text(body["offers"][0]["title"], timeout=20_000)  # the tablet, live
        await browser.close()


@needs_chromium
async def test_the_pages_fit_a_phone_a_tablet_and_a_desktop(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    async with running_agent(Agent(config)) as agent, async_playwright() as pw:
        url = agent.http_url or ""
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        await checkin(config, url, "c-ada", "fit")
        for width, height in WIDTHS:
            page = await open_tablet(browser, url, config.http.staff_token, (width, height))
            await page.locator("#alerts .card").first.wait_for(timeout=15_000)
            header = await page.locator("header").bounding_box()
            assert header is not None and header["height"] < 90  # one line of header, even on a phone
            await no_sideways_scroll(page)
            await page.screenshot(path=str(tmp_path / f"tablet-{width}.png"), full_page=True)
            await page.goto(f"{url}/insights")
            await page.locator("#offers canvas, #offers .empty").first.wait_for(timeout=15_000)
            await no_sideways_scroll(page)
            await page.screenshot(path=str(tmp_path / f"insights-{width}.png"), full_page=True)
            await page.context.close()
        await browser.close()
    for width, _ in WIDTHS:
        assert (tmp_path / f"tablet-{width}.png").stat().st_size > 5_000
        assert (tmp_path / f"insights-{width}.png").stat().st_size > 5_000
