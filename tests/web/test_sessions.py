"""Sign-in and signed tokens: a sign-out holds across restarts, guessing is limited per address,
and a check-in token and a consent token each work only where they belong."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from edge_agent.presence.checkin import make_token
from edge_agent.runtime import Agent
from edge_agent.testing.store import running_agent, seeded_config


async def sign_in(http: aiohttp.ClientSession, url: str, token: str) -> str:
    async with http.post(f"{url}/login", data={"token": token}, allow_redirects=False) as r:
        assert r.status == 303
        return r.cookies["edge_agent_session"].value


async def test_a_sign_out_holds_across_a_restart(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    async with running_agent(Agent(config)) as agent, aiohttp.ClientSession() as http:
        cookie = await sign_in(http, agent.http_url or "", config.http.staff_token)
        kept = await sign_in(http, agent.http_url or "", config.http.staff_token)
        jar = {"edge_agent_session": cookie}
        async with http.post(f"{agent.http_url}/logout", cookies=jar, allow_redirects=False) as r:
            assert r.status == 303
    async with running_agent(Agent(config)) as agent, aiohttp.ClientSession() as http:
        for value, expected in ((cookie, 401), (kept, 200)):
            async with http.get(f"{agent.http_url}/api/alerts", cookies={"edge_agent_session": value}) as r:
                assert r.status == expected


async def test_guessing_the_staff_token_is_limited_per_address(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    async with running_agent(Agent(config)) as agent, aiohttp.ClientSession() as http:
        url = agent.http_url or ""
        statuses = []
        for i in range(12):
            async with http.post(f"{url}/login", data={"token": f"guess-{i}"}, allow_redirects=False) as r:
                statuses.append(r.status)
                retry = r.headers.get("Retry-After")
        assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
        assert retry is not None and 1 <= int(retry) <= 60
        async with http.post(f"{url}/login", data={"token": config.http.staff_token}, allow_redirects=False) as r:
            assert r.status == 429  # even the right token waits: the address is cooling down
        headers = {"Authorization": f"Bearer {config.http.staff_token}"}
        async with http.get(f"{url}/api/status", headers=headers) as r:
            assert r.status == 429
        async with http.get(f"{url}/metrics") as r:
            families = {f.name: f for f in text_string_to_metric_families(await r.text())}
        refused = {s.labels["reason"]: s.value for s in families["edge_agent_login_refused"].samples}
        assert refused["wrong_token"] == 10 and refused["rate_limited"] >= 3


async def test_a_consent_token_is_refused_at_checkin_without_spending_its_nonce(tmp_path: Path) -> None:
    config = seeded_config(tmp_path)
    withdraw = make_token(config.checkin.key, "c-ada", config.store_id, int(time.time()) + 120, "n1", consent=False)
    checkin = make_token(config.checkin.key, "c-ada", config.store_id, int(time.time()) + 120, "n2")
    async with running_agent(Agent(config)) as agent, aiohttp.ClientSession() as http:
        url = agent.http_url or ""
        async with http.post(f"{url}/api/checkin", json={"token": withdraw}) as r:
            assert r.status == 403 and (await r.json()) == {"error": "wrong_kind"}
        async with http.post(f"{url}/api/consent", json={"token": checkin}) as r:
            assert r.status == 403 and (await r.json()) == {"error": "wrong_kind"}
        async with http.post(f"{url}/api/consent", json={"token": withdraw}) as r:
            assert r.status == 200 and (await r.json()) == {"ok": True, "consent": False}  # its nonce was unspent
        async with http.post(f"{url}/api/consent", json={"token": withdraw}) as r:
            assert r.status == 403 and (await r.json()) == {"error": "replayed"}
