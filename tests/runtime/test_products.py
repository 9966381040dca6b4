"""The product catalog is read from SQLite as needed, behind a bounded cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.runtime.learned import Products
from edge_agent.store import connect
from edge_agent.store.profiles import SqliteProfiles


def test_products_are_looked_up_by_sku_and_the_cache_stays_bounded(tmp_path: Path) -> None:
    conn = connect(tmp_path / "a.db")
    conn.executemany(
        "INSERT INTO products(sku, title, category) VALUES (?, ?, ?)",
        [(f"SKU-{n}", f"Item {n}", "bags" if n % 2 else "shoes") for n in range(50)],
    )
    products = Products(SqliteProfiles(conn), size=8)
    assert products["SKU-3"] == ("Item 3", "bags") and products.get("SKU-4") == ("Item 4", "shoes")
    assert "NOPE" not in products and products.get("NOPE", ("?", "")) == ("?", "")
    with pytest.raises(KeyError):
        products["NOPE"]
    for n in range(50):
        assert products[f"SKU-{n}"][0] == f"Item {n}"
    assert products.cached == 8
    assert len(products) == 50 and sorted(products)[:2] == ["SKU-0", "SKU-1"]
    conn.execute("UPDATE products SET title = 'Renamed' WHERE sku = 'SKU-49'")
    assert products["SKU-49"] == ("Item 49", "bags")  # cached until the catalog is reloaded
    products.clear()
    assert products["SKU-49"] == ("Renamed", "bags")


def test_a_sku_reads_as_its_title_else_as_itself(tmp_path: Path) -> None:
    conn = connect(tmp_path / "a.db")
    conn.executemany(
        "INSERT INTO products(sku, title, category) VALUES (?, ?, ?)",
        [("COAT-1", "Wool coat", "outerwear"), ("BARE-1", "", "")],
    )
    products = Products(SqliteProfiles(conn))
    assert [products.title(s) for s in ("COAT-1", "BARE-1", "NOPE")] == ["Wool coat", "BARE-1", "NOPE"]
    assert [products.category(s) for s in ("COAT-1", "BARE-1", "NOPE")] == ["outerwear", "", ""]
    assert products["COAT-1"].category == "outerwear"
