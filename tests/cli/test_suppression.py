"""A withdrawal or erasure made on the box sticks: a CRM re-import cannot give consent back or
re-create a forgotten customer; only `consent --give` or a signed consent token does."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import aiohttp

from edge_agent.presence.checkin import make_token
from edge_agent.runtime import Agent
from edge_agent.store import connect
from edge_agent.testing.store import running_agent, seeded_config

CRM = "customer_id,display_name,consent,preferred_categories\nc-ada,Ada Lovelace,true,shoes\nc-grace,Grace,true,\n"


def consent_of(db: Path, customer_id: str) -> bool | None:
    with connect(db) as conn:
        row = conn.execute("SELECT consent FROM customers WHERE customer_id = ?", (customer_id,)).fetchone()
    return None if row is None else bool(row[0])


def test_a_reimport_keeps_a_withdrawal_until_consent_is_given_again(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = seeded_config(tmp_path)
    crm = tmp_path / "crm.csv"
    crm.write_text(CRM)
    assert cli("customer", "consent", "c-ada", "--withdraw", "--config", tmp_path / "agent.yaml").code == 0
    again = cli("customer", "import", crm, "--json", "--config", tmp_path / "agent.yaml")
    report = json.loads(again.out)
    assert again.code == 0 and report["imported"] == 2 and report["errors"] == []
    assert report["notes"] == [f"row 1: c-ada: consent withdrawn on the box on {date.today()}; kept withdrawn"]
    assert consent_of(config.db_path, "c-ada") is False and consent_of(config.db_path, "c-grace") is True
    assert cli("customer", "consent", "c-ada", "--give", "--config", tmp_path / "agent.yaml").code == 0
    cli("customer", "import", crm, "--config", tmp_path / "agent.yaml")
    assert consent_of(config.db_path, "c-ada") is True


def test_a_forgotten_customer_is_not_recreated_by_an_import(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = seeded_config(tmp_path)
    crm = tmp_path / "crm.csv"
    crm.write_text(CRM)
    assert cli("customer", "forget", "c-ada", "--yes", "--config", tmp_path / "agent.yaml").code == 0
    result = cli("customer", "import", crm, "--config", tmp_path / "agent.yaml")
    assert result.code == 0 and "c-ada was forgotten on the box on" in result.err and "not re-created" in result.err
    assert consent_of(config.db_path, "c-ada") is None
    raw = b"".join(p.read_bytes() for p in config.data_dir.glob("edge-agent.db*"))
    assert b"c-ada" not in raw  # the box remembers a keyed hash, never the id
    assert cli("customer", "consent", "c-ada", "--give", "--config", tmp_path / "agent.yaml").code == 0
    cli("customer", "import", crm, "--config", tmp_path / "agent.yaml")
    assert consent_of(config.db_path, "c-ada") is True


async def test_a_withdrawal_by_signed_token_sticks_across_a_reimport(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = seeded_config(tmp_path)
    crm = tmp_path / "crm.csv"
    crm.write_text(CRM)
    token = make_token(config.checkin.key, "c-ada", config.store_id, int(time.time()) + 120, "w1", consent=False)
    async with (
        running_agent(Agent(config)) as agent,
        aiohttp.ClientSession() as http,
        http.post(f"{agent.http_url}/api/consent", json={"token": token}) as r,
    ):
        assert r.status == 200
    cli("customer", "import", crm, "--config", tmp_path / "agent.yaml")
    assert consent_of(config.db_path, "c-ada") is False
    back = make_token(config.checkin.key, "c-ada", config.store_id, int(time.time()) + 120, "g1", consent=True)
    async with (
        running_agent(Agent(config)) as agent,
        aiohttp.ClientSession() as http,
        http.post(f"{agent.http_url}/api/consent", json={"token": back}) as r,
    ):
        assert r.status == 200
    cli("customer", "import", crm, "--config", tmp_path / "agent.yaml")
    assert consent_of(config.db_path, "c-ada") is True
