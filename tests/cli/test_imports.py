"""Imports take files as CRM and spreadsheet exports write them; no input of any shape gives a traceback."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.core.errors import CatalogError
from edge_agent.field import imports
from edge_agent.field.imports import import_customers, import_offers
from edge_agent.store import connect

UUID = "f7826da6-4fa2-4e98-8024-bc5b71e0893e"
ALT = "aa" * 20


def customers(conn) -> dict[str, tuple]:  # type: ignore[no-untyped-def,type-arg]
    return {
        r[0]: r[1:] for r in conn.execute("SELECT customer_id, tier, consent, visits_90d, rotating_key FROM customers")
    }


def test_excel_style_semicolons_bom_crlf_quotes_and_empty_optional_cells(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    text = (
        "customer_id;display_name;tier;consent;visits_90d;spend_90d;rotating_key;ibeacon;altbeacon\r\n"
        f'c-1;"Lovelace; Ada";gold;true;7;640,5;;{UUID}:1:2;\r\n'
        f'c-2;"Grace ""Amazing"" Hopper";;;;;;;{ALT}\r\n'
    )
    path.write_bytes("\ufeff".encode() + text.encode())
    conn = connect(tmp_path / "a.db")
    report = import_customers(conn, path)
    assert report.ok and report.imported == 2, report.errors
    assert customers(conn) == {"c-1": ("gold", 1, 7, None), "c-2": ("bronze", 0, 0, None)}
    assert conn.execute("SELECT spend_90d FROM customers WHERE customer_id = 'c-1'").fetchone() == (640.5,)
    names = dict(conn.execute("SELECT customer_id, display_name FROM customers"))
    assert names == {"c-1": "Lovelace; Ada", "c-2": 'Grace "Amazing" Hopper'}
    kinds = set(conn.execute("SELECT kind, value, customer_id FROM customer_identifiers"))
    assert kinds == {("ibeacon", f"{UUID}:1:2", "c-1"), ("altbeacon", ALT, "c-2")}


def test_json_nulls_are_absent_and_extra_cells_are_a_row_error(tmp_path: Path) -> None:
    conn = connect(tmp_path / "a.db")
    data = [{"customer_id": "c-1", "rotating_key": None, "tier": None, "visits_90d": None, "consent": None}]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    assert import_customers(conn, path).ok
    csv_path = tmp_path / "c.csv"
    csv_path.write_text("customer_id,tier\nc-2,gold,EXTRA\nc-3,silver\n")
    report = import_customers(conn, csv_path)
    assert report.imported == 1 and report.errors == ["row 1: row has 1 more cell(s) than the header has columns"]
    offers = tmp_path / "o.csv"
    offers.write_text("offer_id,title,kind,min_tier,in_stock,starts\no-1,Scarf,,,,\n")
    assert import_offers(conn, offers).ok
    assert conn.execute("SELECT kind, min_tier, in_stock, starts FROM offers").fetchone() == (
        "discount",
        "bronze",
        1,
        None,
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Kunde;Name\n".encode("utf-16"), "not UTF-8 text"),
        ("customer_id,tier\nc-é,gold\n".encode("latin-1"), "not UTF-8 text"),
        (b"customer_id,colour\nc-1,red\n", "unknown column 'colour'"),
        (b"", "empty file"),
        (b'[{"customer_id": "c-1"}, 3]', "expected a JSON list of objects"),
        (b"customer_id\n" + b'"' + b"x" * 70_000 + b'"\n', "not a CSV file the importer can read"),
    ],
)
def test_files_that_cannot_be_imported_are_refused_in_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(CatalogError, match=message) as info:
        import_customers(connect(tmp_path / "a.db"), path)
    assert "\n" not in str(info.value)


def test_strict_fails_the_whole_file_on_one_bad_row(tmp_path: Path) -> None:
    conn = connect(tmp_path / "a.db")
    path = tmp_path / "c.csv"
    path.write_text("customer_id,tier\nc-1,gold\nc-2,diamond\n")
    with pytest.raises(CatalogError, match="row 2: tier"):
        import_customers(conn, path, strict=True)
    assert customers(conn) == {}


cells = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    header=st.lists(st.sampled_from(["customer_id", "tier", "consent", "visits_90d", "ibeacon", "x"]), max_size=6),
    rows=st.lists(st.lists(cells, max_size=7), max_size=5),
    delimiter=st.sampled_from([",", ";"]),
)
def test_no_file_shape_raises_anything_but_a_catalog_error(
    tmp_path_factory: pytest.TempPathFactory, header: list[str], rows: list[list[str]], delimiter: str
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "in.csv"
    path.write_text("\n".join(delimiter.join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    try:
        import_customers(connect(folder / "a.db"), path)
    except CatalogError as exc:
        assert "\n" not in str(exc)


def test_a_hundred_thousand_rows_stream_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w") as handle:
        handle.write("customer_id,display_name,tier,consent,visits_90d,spend_90d,preferred_categories\n")
        for i in range(100_000):
            handle.write(f"c-{i:06d},Customer number {i},silver,true,{i % 30},{i % 999}.5,shoes;coats\n")
    code = f"""
import resource, sys
from pathlib import Path
from edge_agent.field.imports import import_customers
from edge_agent.store import connect
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
report = import_customers(connect(Path({str(tmp_path / "a.db")!r})), Path({str(path)!r}))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(report.imported, (after - before) // 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120).stdout
    imported, grew_mb = (int(x) for x in out.split())
    assert imported == 100_000
    assert grew_mb < 60, f"peak RSS grew {grew_mb} MB while importing"  # the old importer grew ~330 MB


def test_a_long_import_lets_a_running_agents_writer_in_between_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A million-row CRM export must not hold the database for minutes: batches commit, and a
    writer waiting on the lock (the agent's) gets in before the import ends."""
    monkeypatch.setattr(imports, "BATCH_ROWS", 1000)
    path = tmp_path / "c.csv"
    path.write_text("customer_id,consent\n" + "".join(f"c-{i:05d},true\n" for i in range(5000)))
    db = tmp_path / "a.db"
    connect(db).close()
    order: list[str] = []
    started = threading.Event()

    def agent_writer() -> None:
        conn = sqlite3.connect(db, timeout=30, isolation_level=None)
        started.wait()
        conn.execute("BEGIN IMMEDIATE")  # waits on the import's lock
        conn.execute("INSERT INTO state(key, value) VALUES ('agent', 'wrote')")
        conn.execute("COMMIT")
        order.append("agent committed")

    def progress(rows: int) -> None:
        started.set()  # the import holds the lock now

    writer = threading.Thread(target=agent_writer)
    writer.start()
    report = imports.import_customers(connect(db), path, progress=progress)
    order.append("import done")
    writer.join(30)
    assert report.imported == 5000
    assert order == ["agent committed", "import done"]
