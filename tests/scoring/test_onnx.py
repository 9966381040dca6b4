"""The ONNX scorer: verified load, batched scoring, hot-swap, corrupted files, schema mismatch, fallback."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np

from edge_agent.core.events import Customer, Offer
from edge_agent.scoring.features import FEATURES, feature_matrix
from edge_agent.scoring.onnx import Manifest, ModelScorer, OnnxScorer, sha256_file, shipped_manifest
from edge_agent.scoring.rules import Context

SHIPPED = shipped_manifest()
ADA = Customer("c-1", "Ada", "gold", True, ("shoes",), 7, 640.0)
CTX = Context(zone="fitting-rooms", hour=18, weekday=5, dwell_s=120, try_ons=("SKU-1",), temperature_c=4.0)
OFFERS = [
    Offer(f"o{i}", f"Offer {i}", cat, kind, skus=(f"SKU-{i}",), value="15%" if kind == "discount" else "")
    for i, (cat, kind) in enumerate(
        [("shoes", "discount"), ("beauty", "discount"), ("outerwear", "service"), ("accessories", "accessory")] * 16
    )
]


def local_model(data_dir: Path, kind_file: str = "offer_scorer.int8.onnx") -> Path:
    """Copy the shipped model into `<data_dir>/models/`, as a downlink would deliver it."""
    folder = data_dir / "models"
    folder.mkdir(parents=True, exist_ok=True)
    manifest = json.loads(SHIPPED.read_text())
    source = SHIPPED.parent / kind_file
    shutil.copy(source, folder / "offer_scorer.int8.onnx")
    manifest["files"] = {"int8": {"path": "offer_scorer.int8.onnx", "sha256": sha256_file(source)}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder / "manifest.json"


def test_shipped_model_is_verified_and_scores_a_batch() -> None:
    scorer = OnnxScorer(Manifest.read(SHIPPED))
    assert Manifest.read(SHIPPED).features == FEATURES
    scored = scorer.score(ADA, OFFERS, CTX)
    assert len(scored) == 64 and all(0.0 < s.score < 1.0 for s in scored)
    assert scored == sorted(scored, key=lambda s: (-s.score, s.offer_id))
    by_id = {s.offer_id: s for s in scored}
    assert by_id["o0"].score > by_id["o5"].score  # a preferred category beats an unrelated one (o1 was tried on)
    assert "likes shoes" in by_id["o0"].reason
    assert len({round(s.score, 6) for s in scored}) > 1


def test_feature_rows_match_the_schema() -> None:
    x = feature_matrix(ADA, OFFERS[:2], CTX)
    assert x.shape == (2, len(FEATURES)) and x.dtype == np.float32
    row = dict(zip(FEATURES, x[0], strict=True))
    assert row["category_preferred"] == 1 and row["sku_tried_on"] == 0 and row["zone_fitting"] == 1
    assert row["offer_value_pct"] == np.float32(0.15) and row["weekend"] == 1


def test_missing_model_falls_back_to_rules(tmp_path: Path) -> None:
    scorer = ModelScorer([tmp_path / "models" / "manifest.json"])
    assert scorer.active is None and scorer.report()["fallback"] is True
    assert scorer.report()["fallback_reason"] == "no model file found"
    scored = scorer.score(ADA, OFFERS[:4], CTX)
    assert scored[0].offer_id == "o0"  # the rule scorer also ranks a liked category first


def test_corrupted_model_is_refused(tmp_path: Path) -> None:
    manifest = local_model(tmp_path)
    model = manifest.parent / "offer_scorer.int8.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    scorer = ModelScorer([manifest])
    assert scorer.active is None
    assert "does not match the manifest" in str(scorer.report()["fallback_reason"])


def test_schema_mismatch_is_refused(tmp_path: Path) -> None:
    manifest = local_model(tmp_path)
    data = json.loads(manifest.read_text())
    data["features"] = [*data["features"][:-1], "offer_category_pets"]
    manifest.write_text(json.dumps(data))
    scorer = ModelScorer([manifest])
    assert scorer.active is None and "feature schema" in str(scorer.report()["fallback_reason"])


def test_unloadable_file_with_a_matching_sha_is_refused(tmp_path: Path) -> None:
    manifest = local_model(tmp_path)
    model = manifest.parent / "offer_scorer.int8.onnx"
    model.write_bytes(b"not a model")
    data = json.loads(manifest.read_text())
    data["files"]["int8"]["sha256"] = sha256_file(model)
    manifest.write_text(json.dumps(data))
    scorer = ModelScorer([manifest])
    assert scorer.active is None and "cannot run" in str(scorer.report()["fallback_reason"])


def test_hot_swap_is_atomic_and_a_broken_update_is_rolled_back(tmp_path: Path) -> None:
    manifest = local_model(tmp_path)
    scorer = ModelScorer([manifest, SHIPPED])
    first = scorer.active
    assert first is not None and scorer.swaps == 1
    in_flight = first  # a scoring call that started before the swap holds this reference

    local_model(tmp_path, "offer_scorer.fp32.onnx")  # the data team ships a new model
    assert scorer.reload() is True
    assert scorer.active is not None and scorer.active.sha256 != first.sha256 and scorer.swaps == 2
    assert len(in_flight.score(ADA, OFFERS, CTX)) == 64  # the old session still finishes its work

    current = scorer.active
    (manifest.parent / "offer_scorer.int8.onnx").write_bytes(b"half a file")  # a botched copy
    assert scorer.reload() is False
    assert scorer.active is current  # kept the working model
    assert "does not match the manifest" in str(scorer.report()["last_error"])
    assert scorer.reload() is False  # nothing changed since: no work


def test_what_the_store_learned_reaches_the_model_and_the_rules_alike() -> None:
    """Same import, different behaviour since: the stronger learned affinity leads, a dislike sinks."""
    from edge_agent.scoring.rules import RuleScorer

    customer = Customer("c-2", "Bo", "silver", True, ("shoes",), 4, 300.0)
    offers = [
        Offer(f"o-{c}", c, c, "discount", skus=(f"SKU-{c}",), value="10%") for c in ("shoes", "outerwear", "bags")
    ]
    learned = Context(zone="entrance", hour=11, weekday=2, affinities=(("outerwear", 6.0), ("shoes", -4.0)))
    row = feature_matrix(customer, offers[1:2], replace(learned, owned=("SKU-outerwear",)))[0]
    named = dict(zip(FEATURES, row.tolist(), strict=True))
    assert named["learned_affinity_relative"] > 0.9 and named["owns_offer_sku"] == 1.0
    assert named["learned_disliked"] == 0.0
    for scorer in (OnnxScorer(Manifest.read(SHIPPED)), RuleScorer()):
        before = [s.offer_id for s in scorer.score(customer, offers, replace(learned, affinities=()))]
        after = [s.offer_id for s in scorer.score(customer, offers, learned)]
        assert before[0] == "o-shoes" and after[0] == "o-outerwear", type(scorer).__name__
        assert after.index("o-shoes") > before.index("o-shoes")


def test_at_the_door_a_preferred_category_leads_at_every_hour_of_the_day() -> None:
    """Stores open early and late (and tests run at night): no hour flips the ranking."""
    scorer = OnnxScorer(Manifest.read(SHIPPED))
    newcomer = Customer("c-2", "Bo", "gold", True, ("shoes",), 0, 0.0)
    offers = [Offer("o-shoes", "Shoes", "shoes", "discount"), Offer("o-scarf", "Scarf", "accessories", "accessory")]
    leaders = {h: scorer.score(newcomer, offers, Context(zone="entrance", hour=h, weekday=2))[0] for h in range(24)}
    assert {s.offer_id for s in leaders.values()} == {"o-shoes"}, leaders
