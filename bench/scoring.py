"""Offer scoring: latency to score 64 offers (int8 vs fp32) and held-out AUC (oracle, fp32, int8).

    python bench/scoring.py [--quick]

Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from edge_agent.scoring.onnx import Manifest, OnnxScorer, shipped_manifest
from edge_agent.scoring.synthetic import auc, generate

HELD_OUT_SEED = 20261127 + 2  # the training script's test split


def latency(scorer: OnnxScorer, batch: np.ndarray, runs: int) -> tuple[float, float]:
    predict = scorer.predict
    for _ in range(50):
        predict(batch)
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        predict(batch)
        times[i] = (time.perf_counter() - start) * 1000
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def main(quick: bool) -> dict[str, object]:
    manifest = Manifest.read(shipped_manifest())
    int8, fp32 = OnnxScorer(manifest, "int8"), OnnxScorer(manifest, "fp32")
    held_out = generate(5_000 if quick else 40_000, HELD_OUT_SEED)
    batch = held_out.features[:64]
    runs = 500 if quick else 5000
    int8_p50, int8_p99 = latency(int8, batch, runs)
    fp32_p50, fp32_p99 = latency(fp32, batch, runs)
    auc_int8 = auc(int8.predict(held_out.features), held_out.labels)
    auc_fp32 = auc(fp32.predict(held_out.features), held_out.labels)
    return {
        "int8_p50_ms": round(int8_p50, 4),
        "int8_p99_ms": round(int8_p99, 4),
        "fp32_p50_ms": round(fp32_p50, 4),
        "fp32_p99_ms": round(fp32_p99, 4),
        "auc_oracle": round(auc(held_out.propensity, held_out.labels), 4),
        "auc_fp32": round(auc_fp32, 4),
        "auc_int8": round(auc_int8, 4),
        "auc_int8_minus_fp32": round(auc_int8 - auc_fp32, 4),
        "int8_bytes": int8.path.stat().st_size,
        "fp32_bytes": fp32.path.stat().st_size,
        "int8_vs_fp32_size": round(int8.path.stat().st_size / fp32.path.stat().st_size, 3),
        "offers_per_run": 64,
        "held_out_rows": len(held_out.labels),
        "model_version": manifest.version,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds instead of up to a minute")
    print(json.dumps(main(parser.parse_args().quick)))
