"""The ONNX offer scorer: verified at load, batched per customer, hot-swapped, with a fallback."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..core.component import Component, Sample, Status
from ..core.errors import EdgeAgentError
from ..core.events import Customer, Offer, ScoredOffer
from .features import FEATURES, SCHEMA_VERSION, feature_matrix, zone_kind
from .rules import Context, RuleScorer, Scorer, tier_rank

log = logging.getLogger(__name__)


class ModelError(EdgeAgentError):
    """A model file cannot be used (missing, corrupted, wrong schema, fails to run)."""


@dataclass(frozen=True, slots=True)
class Manifest:
    path: Path
    name: str
    version: str
    feature_schema: str
    features: tuple[str, ...]
    files: dict[str, dict[str, str]]
    metrics: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text())
            return cls(
                path,
                data["name"],
                data["version"],
                data["feature_schema"],
                tuple(data["features"]),
                data["files"],
                data.get("metrics", {}),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{path}: unreadable manifest ({exc})") from None

    def file(self, kind: str) -> tuple[Path, str]:
        entry = self.files.get(kind)
        if entry is None:
            raise ModelError(f"{self.path}: no {kind} model listed")
        return self.path.parent / entry["path"], entry["sha256"]


def _ort_errors() -> tuple[type[Exception], ...]:
    """onnxruntime's own exception classes (they derive from Exception directly)."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    names = (
        "Fail",
        "InvalidArgument",
        "InvalidGraph",
        "InvalidProtobuf",
        "NoSuchFile",
        "NotImplemented",
        "RuntimeException",
        "EPFail",
        "ModelLoaded",
        "NoModel",
        "EngineError",
    )
    return tuple(getattr(state, n) for n in names if isinstance(getattr(state, n, None), type))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(manifest: Manifest, kind: str = "int8") -> Path:
    """The model file, once its sha256 and feature schema match what this agent computes."""
    path, expected = manifest.file(kind)
    if not path.exists():
        raise ModelError(f"{path}: missing")
    actual = sha256_file(path)
    if actual != expected:
        raise ModelError(f"{path}: sha256 {actual[:12]}… does not match the manifest's {expected[:12]}…")
    if manifest.feature_schema != SCHEMA_VERSION or manifest.features != FEATURES:
        raise ModelError(f"{path}: feature schema {manifest.feature_schema} does not match {SCHEMA_VERSION}")
    return path


class OnnxScorer:
    """One loaded model; `score` runs all of a customer's offers as one batch."""

    def __init__(self, manifest: Manifest, kind: str = "int8", *, threads: int = 1) -> None:
        import onnxruntime as ort

        path = verify(manifest, kind)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False  # small batches: no need to hold an arena on a Pi
        errors: tuple[type[BaseException], ...] = (*_ort_errors(), OSError, ValueError)
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            self.predict(np.zeros((1, len(FEATURES)), np.float32))
        except errors as exc:
            raise ModelError(f"{path}: cannot run ({type(exc).__name__}: {str(exc)[:200]})") from None
        self.manifest = manifest
        self.path = path
        self.sha256 = manifest.file(kind)[1]

    def predict(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        out: npt.NDArray[np.float32] = self._session.run(["probabilities"], {"features": x})[0][:, 1]
        return out

    def score(self, customer: Customer, offers: Sequence[Offer], context: Context) -> list[ScoredOffer]:
        if not offers:
            return []
        probabilities = self.predict(feature_matrix(customer, offers, context))
        scored = [
            ScoredOffer(o.offer_id, o.title, float(p), explain(customer, o, context))
            for o, p in zip(offers, probabilities, strict=True)
        ]
        scored.sort(key=lambda s: (-s.score, s.offer_id))
        return scored


def explain(customer: Customer, offer: Offer, context: Context) -> str:
    """Why an offer fits, in words staff can say out loud (the model's strongest signals)."""
    skus = set(offer.skus)
    reasons = []
    if skus & set(context.likes):
        reasons.append("liked it at the mirror")
    elif skus & set(context.try_ons):
        reasons.append("tried it on")
    if offer.category in customer.preferred_categories:
        reasons.append(f"likes {offer.category}")
    if offer.kind == "accessory" and zone_kind(context.zone) == "fitting":
        reasons.append("completes the look")
    if offer.category == "outerwear" and context.temperature_c is not None and context.temperature_c < 10:
        reasons.append("cold day")
    if offer.kind == "event" and (context.weekday >= 5 or context.hour >= 17):
        reasons.append("good time for an event")
    if tier_rank(customer.tier) >= 2:
        reasons.append(f"{customer.tier} member")
    return ", ".join(reasons[:3]) or "fits their profile"


class LatencyHistogram:
    """Cumulative buckets of scoring time, exported to /metrics as a Prometheus histogram."""

    BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1)

    def __init__(self) -> None:
        self.counts = [0] * (len(self.BOUNDS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.total += seconds
        for i, bound in enumerate(self.BOUNDS):
            if seconds <= bound:
                self.counts[i] += 1
                return
        self.counts[-1] += 1

    def snapshot(self) -> dict[str, Any]:
        cumulative, running = [], 0
        for count in self.counts:
            running += count
            cumulative.append(running)
        labels = [str(b) for b in self.BOUNDS] + ["+Inf"]
        return {"buckets": dict(zip(labels, cumulative, strict=True)), "sum": self.total, "count": running}


class ModelScorer(Component):
    """The scorer the alert policy holds: the current ONNX model, swapped atomically when a new
    one arrives, and the rule scorer whenever no model can be used (with the reason in status).
    Running, it looks for a new model in the data dir every `poll_s` (loaded off the loop)."""

    name = "scoring"

    def __init__(self, candidates: Sequence[Path], *, fallback: Scorer | None = None, poll_s: float = 1.0) -> None:
        self.poll_s = poll_s
        self._candidates = list(candidates)  # manifest paths, preferred first
        self._fallback = fallback or RuleScorer()
        self._active: OnnxScorer | None = None
        self._seen: tuple[tuple[str, float, int], ...] | None = None
        self._lock = threading.Lock()
        self.fallback_reason: str | None = "not loaded yet"
        self.last_error: str | None = None
        self.swaps = 0
        self.latency = LatencyHistogram()
        self.reload()

    @property
    def active(self) -> OnnxScorer | None:
        return self._active

    def _fingerprint(self) -> tuple[tuple[str, float, int], ...]:
        out = []
        for manifest in self._candidates:
            for path in (manifest, *manifest.parent.glob("*.onnx")):
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                out.append((str(path), st.st_mtime, st.st_size))
        return tuple(sorted(out))

    def reload(self) -> bool:
        """Load the best available model if anything changed on disk; True if a new one is active."""
        fingerprint = self._fingerprint()
        if fingerprint == self._seen:
            return False
        self._seen = fingerprint
        errors = []
        for manifest_path in self._candidates:
            if not manifest_path.exists():
                continue
            try:
                scorer = OnnxScorer(Manifest.read(manifest_path))
            except ModelError as exc:
                errors.append(str(exc))
                if self._active is not None:
                    break  # a failed update never replaces a working model (rollback)
                continue
            if self._active is not None and scorer.sha256 == self._active.sha256:
                self.last_error = "; ".join(errors) or None
                return False
            with self._lock:
                self._active = scorer  # in-flight scoring keeps its reference to the old model
            self.fallback_reason = None
            self.last_error = "; ".join(errors) or None
            self.swaps += 1
            log.info("offer model %s (%s) active", scorer.manifest.version, scorer.sha256[:12])
            return True
        self.last_error = "; ".join(errors) or None
        if self._active is None:
            self.fallback_reason = self.last_error or "no model file found"
            log.warning("offer model unavailable, using rules: %s", self.fallback_reason)
        else:
            log.warning("new offer model rejected, keeping %s: %s", self._active.manifest.version, self.last_error)
        return False

    def score(self, customer: Customer, offers: Sequence[Offer], context: Context) -> list[ScoredOffer]:
        model = self._active
        started = time.perf_counter()
        try:
            if model is None:
                return self._fallback.score(customer, offers, context)
            return model.score(customer, offers, context)
        finally:
            self.latency.observe(time.perf_counter() - started)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            await asyncio.to_thread(self.reload)

    def status(self) -> Status:
        latency = self.latency.snapshot()
        return Status(
            self.name,
            "scoring",
            state="rules" if self._active is None else "model",
            samples=(
                Sample(
                    "scoring_fallback",
                    1.0 if self._active is None else 0.0,
                    kind="gauge",
                    help="1 when scoring uses the rule fallback",
                ),
                Sample(
                    "scoring_seconds",
                    latency["sum"],
                    kind="histogram",
                    help="Time to score one customer's offers",
                    buckets=tuple(latency["buckets"].items()),
                ),
            ),
            body=self.report(),
        )

    def report(self) -> dict[str, Any]:
        model = self._active
        return {
            "model": model.manifest.version if model else None,
            "sha256": model.sha256 if model else None,
            "path": str(model.path) if model else None,
            "fallback": model is None,
            "fallback_reason": self.fallback_reason,
            "last_error": self.last_error,
            "swaps": self.swaps,
            "latency_s": self.latency.snapshot(),
        }


def shipped_manifest() -> Path:
    from importlib import resources

    return Path(str(resources.files("edge_agent.models"))) / "manifest.json"


def model_candidates(data_dir: Path, configured: str) -> list[Path]:
    """Where manifests are looked for: next to the configured model (relative to data_dir),
    then the model shipped with the package."""
    path = Path(configured)
    local = path if path.is_absolute() else data_dir / path
    return [local.parent / "manifest.json", shipped_manifest()]
