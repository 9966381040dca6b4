"""Screenshots of the tablet page and /insights during `edge-agent demo`, at a phone's, a tablet's
and a desktop's width, for the README:

    .venv/bin/python docs/screenshots.py        # writes docs/img/{tablet,insights}-{390,768,1280}.png,
                                                # docs/img/vote-390.png and docs/img/card-friends-390.png

Needs the test extra (playwright) and Debian's chromium, like the browser tests.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from pathlib import Path

from playwright.async_api import Browser, async_playwright

OUT = Path(__file__).parent / "img"
SIZES = ((390, 844), (768, 1024), (1280, 800))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


SHARED: list[str] = []
_reader: list[asyncio.Task[None]] = []  # the companions' link the demo prints when Ada shares her look


async def follow(stdout: asyncio.StreamReader) -> None:
    while line := (await stdout.readline()).decode():
        if found := re.search(r"open for her companions: (\S+)", line):
            SHARED.append(found.group(1))


async def demo() -> tuple[asyncio.subprocess.Process, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "edge_agent", "demo", "--speed", "10", "--duration", "120",
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "COLUMNS": "300"},
    )  # fmt: skip
    assert proc.stdout is not None
    async with asyncio.timeout(60):
        while line := (await proc.stdout.readline()).decode():
            if found := re.search(r"tablet page: (\S+)/\s+staff token: (\S+)", line):
                _reader.append(asyncio.create_task(follow(proc.stdout)))
                return proc, found.group(1), found.group(2)
    raise SystemExit("the demo never printed its tablet page")


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    proc, url, token = await demo()
    await asyncio.sleep(20)  # two store minutes: Ada has been to the mirror and the till
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        for width, height in SIZES:
            context = await browser.new_context(viewport={"width": width, "height": height})
            page = await context.new_page()
            await page.goto(f"{url}/")
            await page.fill("#token", token)
            await page.click("button[type=submit]")
            await page.locator("#alerts .card").first.wait_for(timeout=15_000)
            await page.screenshot(path=str(OUT / f"tablet-{width}.png"), animations="disabled")
            await page.goto(f"{url}/insights")
            await page.locator("#offers canvas, #offers .empty").first.wait_for(timeout=15_000)
            await page.screenshot(path=str(OUT / f"insights-{width}.png"), full_page=True, animations="disabled")
            await context.close()
        await friends(browser, url, token)
        await browser.close()
    proc.terminate()
    await proc.wait()
    print("\n".join(str(p) for p in sorted(OUT.glob("*.png"))))


async def friends(browser: Browser, url: str, token: str) -> None:
    """The vote page as a companion's phone shows it after voting, and Ada's card with the advice."""
    if not SHARED:
        raise SystemExit("the demo never shared Ada's look")
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = await context.new_page()
    await page.goto(SHARED[0].replace(SHARED[0].split("/v/")[0], url))
    await page.locator(".answers button[data-value=up]").first.click()
    await page.locator(".tally").first.wait_for(timeout=15_000)
    await page.screenshot(path=str(OUT / "vote-390.png"), full_page=True, animations="disabled")
    await page.goto(f"{url}/")
    await page.fill("#token", token)
    await page.click("button[type=submit]")
    card = page.locator("#alerts .card:has(.friends)").first
    await card.wait_for(timeout=15_000)
    await card.screenshot(path=str(OUT / "card-friends-390.png"), animations="disabled")
    await context.close()


if __name__ == "__main__":
    asyncio.run(main())
