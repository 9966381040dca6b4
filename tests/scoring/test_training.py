"""Training reproduces the committed model: bit for bit here, AUC within 0.002 elsewhere."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.scoring.onnx import shipped_manifest

TRAIN = Path(__file__).parents[2] / "models" / "train.py"


def test_training_reproduces_the_shipped_model(tmp_path: Path) -> None:
    pytest.importorskip("sklearn", reason="needs the train extra (make test installs it)")
    proc = subprocess.run(
        [sys.executable, str(TRAIN), "--out", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    shipped = json.loads(shipped_manifest().read_text())
    fresh = json.loads((tmp_path / "manifest.json").read_text())
    assert fresh["features"] == shipped["features"] and fresh["version"] == shipped["version"]
    same_bits = all(fresh["files"][k]["sha256"] == shipped["files"][k]["sha256"] for k in ("int8", "fp32"))
    if not same_bits:  # another platform or library build: the stated tolerance applies
        for kind in ("fp32", "int8"):
            assert abs(fresh["metrics"][kind]["auc"] - shipped["metrics"][kind]["auc"]) <= 0.002
    assert fresh["metrics"]["int8"]["auc"] >= fresh["metrics"]["fp32"]["auc"] - 0.005
    assert fresh["metrics"]["int8"]["bytes"] * 3 <= fresh["metrics"]["fp32"]["bytes"]
