"""The companions' vote page in a real headless Chromium at a phone's width (SPEC §16)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright

from edge_agent.core.events import MirrorEvent
from edge_agent.runtime import Agent
from edge_agent.social.looks import Look
from edge_agent.testing.store import running_agent, seeded_config
from edge_agent.testing.wait import eventually

from .test_browser import ARGS, CHROMIUM, ScriptedMirror, fitting_room

HOSTILE = "<script>x</script>"
PHONE = {"width": 390, "height": 844}


def shared(session: str) -> tuple[ScriptedMirror, ScriptedMirror]:
    """A mirror that shares a look of the wool coat, and one that stops sharing it later."""
    now = time.time()
    start = ScriptedMirror(
        MirrorEvent("m1", "try_on", session, now, "COAT-1"),
        MirrorEvent("m1", "share_start", session, now, circle="companions", nickname=HOSTILE),
    )
    stop = ScriptedMirror(MirrorEvent("m1", "share_stop", session, time.time()))
    stop.name = "scripted-mirror-stop"
    return start, stop


def the_look(agent: Agent) -> Look | None:
    looks = agent.runtime.pipeline.social.board.all() if agent.runtime is not None else []
    return looks[0] if looks else None


async def phone(browser: object, url: str) -> Page:
    context = await browser.new_context(viewport=PHONE, is_mobile=True)  # type: ignore[attr-defined]
    page: Page = await context.new_page()
    await page.goto(url)
    return page


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)")
async def test_a_companion_votes_sees_the_tally_only_then_and_a_revoked_link_says_so(tmp_path: Path) -> None:
    config = seeded_config(tmp_path, social={"max_seats": 1})
    fitting_room(config)
    start, stop = shared("b1")
    async with running_agent(Agent(config, [start, stop])) as agent, async_playwright() as pw:
        start.go.set()
        await eventually(lambda: the_look(agent) is not None)
        look = the_look(agent)
        assert look is not None
        url = f"{agent.http_url}/v/{look.token}"
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = await phone(browser, url)
        assert HOSTILE in await page.locator("h1").inner_text()  # the nickname is shown as text
        assert await page.locator("script:not([src])").count() == 0
        assert await page.locator(".item h2").inner_text() == "Wool coat"
        assert await page.locator(".tally").count() == 0  # hidden until this phone voted
        await page.locator(".answers button[data-value=up]").click()
        await page.locator(".tally").wait_for(timeout=10_000)
        assert "Yes 1" in await page.locator(".tally").inner_text()
        assert "chosen" in (await page.locator(".answers button[data-value=up]").get_attribute("class") or "")
        await page.screenshot(path=str(tmp_path / "vote-390.png"), full_page=True)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing sideways on a phone
        other = await phone(browser, url)  # the only seat is taken: a second phone can look, not vote
        assert "seats" in await other.locator("#banner").inner_text()
        assert await other.locator(".answers button").first.is_disabled()
        stop.go.set()
        await eventually(lambda: look.stopped_at is not None)
        await page.reload()
        assert "no longer shared" in await page.locator("#banner").inner_text()
        assert await page.locator(".answers button").first.is_disabled()
        await browser.close()
    assert (tmp_path / "vote-390.png").stat().st_size > 5_000


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)")
async def test_a_vote_after_the_look_expired_is_refused_on_the_page(tmp_path: Path) -> None:
    config = seeded_config(tmp_path, social={"max_ttl_s": 3})
    fitting_room(config)
    start, _ = shared("b2")
    async with running_agent(Agent(config, [start])) as agent, async_playwright() as pw:
        start.go.set()
        await eventually(lambda: the_look(agent) is not None)
        look = the_look(agent)
        assert look is not None
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = await phone(browser, f"{agent.http_url}/v/{look.token}")
        await page.locator(".answers button").first.wait_for()
        await eventually(lambda: not look.live(time.time()))
        await page.locator(".answers button[data-value=down]").click()
        await page.locator("#banner:not([hidden])").wait_for(timeout=10_000)
        assert "no longer shared" in await page.locator("#banner").inner_text()
        assert await page.locator(".tally").count() == 0
        await browser.close()
