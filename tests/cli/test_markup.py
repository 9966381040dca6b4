"""Data is text in the CLI: names, titles and SKUs that look like rich markup are shown as typed
and never break a table or a line."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from edge_agent.cli import common, main
from edge_agent.store import connect
from edge_agent.testing.config import write_config

MARKUP = st.sampled_from(["[/x]", "[bold red]loud[/]", "[link=https://evil.example]click[/link]", "[", "]", "\\[x]"])
WORDS = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=0, max_size=12)
HOSTILE = st.builds(lambda a, m, b: f"{a}{m}{b}".strip() or "x", WORDS, MARKUP, WORDS)


def run(capsys, *args: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=HOSTILE, title=HOSTILE, sku=HOSTILE)
@example(name="[/x]000000000\u2e80\U0001f300", title="x", sku="x")  # wide glyphs: once wrapped at 80 columns
def test_markup_in_data_is_printed_as_typed(capsys, monkeypatch, name: str, title: str, sku: str) -> None:  # type: ignore[no-untyped-def]
    # Wide enough that no cell wraps: each value on one line. The console is built at import,
    # before any test could set COLUMNS, so its width is set on it.
    monkeypatch.setattr(common.console, "width", 1000)
    sku = sku.replace(";", "").strip() or "x"  # `;` separates SKUs in a list; imports strip cells
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = str(write_config(tmp / "agent.yaml", data_dir=tmp / "data"))
        files = {
            "customers": [{"customer_id": "c-1", "display_name": name, "consent": True}],
            "offers": [{"offer_id": "o-1", "title": title, "category": "x", "skus": sku}],
            "products": [{"sku": sku, "title": title}],
        }
        for kind, rows in files.items():
            path = tmp / f"{kind}.json"
            path.write_text(json.dumps(rows))
            code, out, err = run(capsys, kind[:-1], "import", str(path), "--config", config)
            assert code == 0, (kind, out, err)
        with connect(tmp / "data" / "edge-agent.db") as db:  # a pair of SKUs for insights
            db.execute("INSERT INTO cooccurrence(source, a, b, ts) VALUES ('s1', ?, 'B', 0), ('s2', ?, 'B', 0), "
                       "('s3', ?, 'B', 0)", (sku, sku, sku))  # fmt: skip
        for command, expected in (
            (["customer", "list"], name),
            (["offer", "list"], title),
            (["product", "list"], title),
            (["insights", "--days", "7"], title),
            (["device", "list"], None),
        ):
            code, out, err = run(capsys, *command, "--config", config)
            assert code == 0 and "Traceback" not in err, (command, err)
            if expected is not None:  # shown as typed: nothing became formatting or vanished
                assert " ".join(expected.split()) in " ".join(out.split()), (command, expected, out)
