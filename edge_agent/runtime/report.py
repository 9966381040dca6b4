"""Folds over the components' `status()`: what `status --json`, `/metrics`, `/healthz` and `doctor` show."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..core.component import Sample, Status
from ..core.stats import AgentStats


def snapshot(statuses: Iterable[Status]) -> dict[str, Any]:
    """`status --json`: each component in its section, every link under `links` as well."""
    out: dict[str, Any] = {"sources": {}, "sinks": {}, "links": {}}
    for status in statuses:
        if status.merge:
            out.update(status.to_json())
        elif status.key is None:
            out[status.section] = status.to_json()
        else:
            out.setdefault(status.section, {})[status.key] = status.to_json()
        if status.link is not None:
            out["links"][status.key or status.name] = status.link.to_json()
    return out


@dataclass(frozen=True, slots=True)
class Verdict:
    """`/healthz`: ok, or what is wrong and how badly."""

    level: str  # ok | degraded | failing
    reasons: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()  # components that cannot do their job

    def to_json(self) -> dict[str, Any]:
        if self.level == "ok":
            return {"status": "ok"}
        return {"status": self.level, "reasons": list(self.reasons), "failed": list(self.failed)}


def verdict(statuses: Sequence[Status]) -> Verdict:
    bad = [s for s in statuses if not s.health.ok]
    if not bad:
        return Verdict("ok")
    level = "failing" if any(s.health.level == "failing" for s in bad) else "degraded"
    return Verdict(level, tuple(s.health.reason or s.name for s in bad), tuple(s.name for s in bad))


def samples(statuses: Iterable[Status]) -> Iterator[Sample]:
    """Every component's samples, and its link and health the same way for all of them."""
    for status in statuses:
        yield from status.samples
        name = (("component", status.name),)
        healthy = 1.0 if status.health.ok else 0.0
        yield Sample("component_healthy", healthy, name, kind="gauge", help="1 while the component can do its job")
        if status.link is not None:
            link = (("link", status.key or status.name),)
            yield Sample(
                "link_up", 1.0 if status.link.up else 0.0, link, kind="gauge", help="1 when the link is connected"
            )
            yield Sample("link_failures", status.link.failures, link, help="Failed connection attempts")


def batch_header(statuses: Iterable[Status], stats: AgentStats) -> dict[str, Any]:
    """What every cloud batch says about its box (docs/interface.md § Cloud batches): versions,
    and health at the closing moment — can the store commit, each link's state, dead letters."""
    model: str | None = None
    writable = True
    links: dict[str, str] = {}
    for status in statuses:
        if status.section == "scoring":
            model = status.body.get("model") or "rules"
        if status.section == "store" and status.key is None:
            # a bucket that closes while the card is full commits on the retry that succeeds,
            # before the writer calls itself writable again: the batch says the card was full
            writable = status.state == "writable"
        if status.link is not None:
            links[status.key or status.name] = str(status.link.to_json().get("state"))
    return {
        "agent_version": __version__,
        "model_version": model,
        "health": {"store_writable": writable, "links": links, "dead_letters": sum(stats.dead_letters.values())},
    }
