"""`edge-agent model info|verify|score` and `offer import|list`."""

from __future__ import annotations

import json
from pathlib import Path


def seed(cli, config: Path, tmp: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp / "customers.csv").write_text(
        "customer_id,display_name,tier,consent,preferred_categories,visits_90d,spend_90d\n"
        "c-1,Ada,gold,true,shoes;bags,7,640\n"
    )
    (tmp / "offers.json").write_text(
        json.dumps(
            [
                {
                    "offer_id": "o-shoes",
                    "title": "15% off shoes",
                    "category": "shoes",
                    "kind": "discount",
                    "value": "15%",
                },
                {"offer_id": "o-kids", "title": "Kids corner", "category": "kids", "kind": "service"},
                {
                    "offer_id": "o-vip",
                    "title": "VIP night",
                    "category": "event",
                    "kind": "event",
                    "min_tier": "platinum",
                },
            ]
        )
    )
    assert cli("customer", "import", tmp / "customers.csv", "--config", config).code == 0
    assert cli("offer", "import", tmp / "offers.json", "--config", config).code == 0


def test_model_info_and_verify(cli, config_file: Path) -> None:  # type: ignore[no-untyped-def]
    info = cli("model", "info", "--json", "--config", config_file)
    assert info.code == 0
    data = json.loads(info.out)
    assert data["version"] and len(data["sha256"]) == 64 and len(data["features"]) == 34
    assert "learned_affinity_relative" in data["features"]
    metrics = data["metrics"]
    assert metrics["int8"]["auc"] > 0.75 and metrics["int8"]["auc"] >= metrics["fp32"]["auc"] - 0.005
    verified = cli("model", "verify", "--config", config_file)
    assert verified.code == 0 and "ok" in verified.out


def test_model_verify_fails_on_a_corrupted_local_model(cli, config_file: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    folder = data_dir / "models"
    folder.mkdir()
    (folder / "manifest.json").write_text(
        json.dumps(
            {
                "name": "offer_scorer",
                "version": "bad",
                "feature_schema": "offer-features/v1",
                "features": [],
                "files": {"int8": {"path": "offer_scorer.int8.onnx", "sha256": "0" * 64}},
            }
        )
    )
    (folder / "offer_scorer.int8.onnx").write_bytes(b"x")
    result = cli("model", "verify", "--config", config_file)
    assert result.code == 1 and "FAILED" in result.out and "sha256" in result.out


def test_model_score_ranks_eligible_offers_with_reasons(cli, config_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    seed(cli, config_file, tmp_path)
    result = cli("model", "score", "--customer", "c-1", "--zone", "entrance", "--json", "--config", config_file)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert [o["offer_id"] for o in data["offers"]] == ["o-shoes", "o-kids"]  # VIP night needs platinum
    assert "likes shoes" in data["offers"][0]["reason"]
    assert data["scorer"] != "rules"
    table = cli("model", "score", "--customer", "c-1", "--config", config_file)
    assert "15% off shoes" in table.out
    missing = cli("model", "score", "--customer", "nobody", "--config", config_file)
    assert missing.code == 1 and "no customer 'nobody'" in missing.err


def test_offer_import_reports_bad_rows_and_strict_refuses(cli, config_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "offers.csv"
    bad.write_text(
        "offer_id,title,kind,starts\no1,Good,discount,2026-01-01\no2,Bad kind,teleport,\no3,Bad date,event,soon\n"
    )
    result = cli("offer", "import", bad, "--config", config_file)
    assert result.code == 1
    assert "row 2: kind" in result.err and "row 3: starts" in result.err
    listed = json.loads(cli("offer", "list", "--json", "--config", config_file).out)
    assert [o["offer_id"] for o in listed] == ["o1"]
    strict = cli("offer", "import", bad, "--strict", "--config", config_file)
    assert strict.code == 2 and "nothing imported" in strict.err
    unknown = tmp_path / "u.csv"
    unknown.write_text("offer_id,title,colour\no9,X,red\n")
    refused = cli("offer", "import", unknown, "--config", config_file)
    assert refused.code == 2 and "unknown column 'colour'" in refused.err
