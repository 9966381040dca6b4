"""Proof by killing: the agent is SIGKILLed at random moments while inputs arrive; nothing is lost or doubled.

A mirror publishes QoS 1 `try_on` events from its own process; a store app checks customers in
over HTTP (each retried with the same token until the agent answers); staff acknowledge every
alert on a tablet (retried until answered). Meanwhile the agent runs as `edge-agent run` and is
killed with SIGKILL at seeded random moments, and the cloud broker is stopped and started in
between. After the last restart the agent drains; the de-duplicated batches that reached the
cloud must count exactly what was published. `bench/crash.py` and the suite run this harness.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from .. import mirror
from ..config.agent import AgentConfig, load_config
from ..core.events import Device
from ..field.devices import add_device
from ..field.imports import import_customers, import_offers, import_products
from ..learning.profile import SIGNALS, learn_at
from ..presence.checkin import make_token
from ..sim.broker import MosquittoBroker, free_port
from ..store import connect, outcomes, rows
from ..store.db import integrity
from ..store.effects import open_counts
from ..store.outbox import outbox_status
from .config import write_config
from .wait import wait_until

MIRROR = "mirror-1"
SKUS, LEARNERS = 13, 3  # SKU-i is of category cat-i; customers c-0000..c-0002 shop at the mirror
METRICS = ("mirror_try_ons", "alerts_sent", "alert_actions")


@dataclass(frozen=True, slots=True)
class CrashPlan:
    kills: int = 20
    seed: int = 1
    mirror_events: int = 1200
    mirror_rate: float = 80.0
    checkins: int = 120
    checkin_rate: float = 8.0
    up_s: tuple[float, float] = (0.3, 2.5)  # how long the agent lives before each kill
    cloud_flip_p: float = 0.35  # chance to stop (or restart) the cloud broker at each kill
    webhook: tuple[str, str] | None = None  # (url, secret): entry alerts also go to a webhook sink

    @classmethod
    def spread(cls, kills: int, seed: int = 1) -> CrashPlan:
        """Inputs that keep arriving for as long as the kills go on (≈ 1.4 s up + 1.3 s start-up each)."""
        seconds = kills * 2.7
        return cls(
            kills=kills,
            seed=seed,
            mirror_events=int(seconds * 40),
            mirror_rate=40.0,
            checkins=int(seconds * 3),
            checkin_rate=3.0,
        )


@dataclass(slots=True)
class CrashReport:
    kills: int
    published: dict[str, int]
    counted: dict[str, int]
    integrity: str
    batches: int
    duplicate_deliveries: int
    learned_mismatches: int = 0

    @property
    def lost(self) -> int:
        return sum(max(0, self.published[m] - self.counted.get(m, 0)) for m in METRICS)

    @property
    def double_counted(self) -> int:
        return sum(max(0, self.counted.get(m, 0) - self.published[m]) for m in METRICS)

    def figures(self) -> dict[str, Any]:
        return {
            "kills": self.kills,
            "published": sum(self.published.values()),
            "counted": sum(self.counted.get(m, 0) for m in METRICS),
            "lost": self.lost,
            "double_counted": self.double_counted,
            "per_metric": {m: {"published": self.published[m], "counted": self.counted.get(m, 0)} for m in METRICS},
            "batches": self.batches,
            "duplicate_deliveries": self.duplicate_deliveries,
            "integrity": self.integrity,
            "learned_mismatches": self.learned_mismatches,
        }


@dataclass(slots=True)
class CloudConsumer:
    """The cloud side: a persistent QoS 1 session collecting every batch, duplicates included."""

    port: int
    topic: str
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _client: paho.Client | None = None

    def start(self) -> None:
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id="crash-cloud", clean_session=False)
        client.on_message = self._on_message
        client.on_connect = lambda c, *_: c.subscribe(self.topic, qos=1)
        client.reconnect_delay_set(1, 1)
        client.connect_async("127.0.0.1", self.port)
        client.loop_start()
        self._client = client

    def stop(self) -> None:
        if self._client is not None:
            self._client.loop_stop()
            self._client.disconnect()

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        batch = json.loads(message.payload)
        with self._lock:
            self.deliveries += 1
            self.batches[batch["batch_id"]] = batch

    def totals(self) -> dict[str, int]:
        out: dict[str, int] = {}
        with self._lock:
            batches = list(self.batches.values())
        for batch in batches:
            for bucket in batch["buckets"]:
                for metric in bucket["metrics"]:
                    if metric["name"] in METRICS:
                        out[metric["name"]] = out.get(metric["name"], 0) + int(metric["value"])
        return out


class StoreApp:
    """Check-ins and staff acks over HTTP, each retried until the agent answers (exactly-once by nonce/action)."""

    def __init__(self, config: AgentConfig, plan: CrashPlan, base_url: str) -> None:
        self._config = config
        self._plan = plan
        self._url = base_url
        self.checked_in = 0
        self.acked: set[str] = set()
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for i in range(self._plan.checkins):
                token = make_token(
                    self._config.checkin.key, f"c-{i:04d}", self._config.store_id, int(time.time()) + 290, f"n{i}"
                )
                status = self._until_answered(partial(self._post, "/api/checkin", {"token": token}))
                if status not in (200, 403):
                    raise AssertionError(f"check-in {i}: HTTP {status}")
                self.checked_in += 1
                self._ack_new_alerts()
                time.sleep(1 / self._plan.checkin_rate)
            while len(self.acked) < self.checked_in:
                self._ack_new_alerts()
                time.sleep(0.2)
        except BaseException as exc:  # noqa: BLE001 -- handed to the main thread, which raises it
            self.error = exc
        finally:
            self.done.set()

    def _ack_new_alerts(self) -> None:
        try:
            alerts = self._get("/api/alerts?limit=500")
        except OSError:
            return
        for alert in alerts:
            alert_id = alert["alert_id"]
            if alert_id not in self.acked:
                self._until_answered(partial(self._post, f"/api/alerts/{alert_id}/ack", {"action": "ack"}))
                self.acked.add(alert_id)

    @staticmethod
    def _until_answered(call: Callable[[], int]) -> int:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                status = call()
            except OSError:  # the agent is down or restarting: same request again
                time.sleep(0.1)
                continue
            if status != 503:
                return status
            time.sleep(0.1)
        raise TimeoutError("the agent never answered")

    def _request(self, path: str, body: dict[str, Any] | None) -> urllib.request.Request:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self._url + path, data=data, method="POST" if data else "GET")
        request.add_header("Authorization", f"Bearer {self._config.http.staff_token}")
        request.add_header("Content-Type", "application/json")
        return request

    def _post(self, path: str, body: dict[str, Any]) -> int:
        try:
            with urllib.request.urlopen(self._request(path, body), timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def _get(self, path: str) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self._request(path, None), timeout=5) as response:
            result: list[dict[str, Any]] = json.loads(response.read())
            return result


def crash_name(i: int) -> str:
    return f"Crash Customer {i:04d}"


def prepare(workdir: Path, plan: CrashPlan, store: MosquittoBroker, cloud: MosquittoBroker) -> AgentConfig:
    """A config and database: one registered mirror, `plan.checkins` consenting customers, one offer."""
    sections: dict[str, Any] = {
        "mqtt": {"url": store.url},
        "http": {"port": free_port()},
        "uplink": {"kind": "mqtt", "url": cloud.url, "interval_s": 0.5, "downlink": False},
        "aggregates": {"bucket_s": 2},
        "scoring": {"holdout_pct": 0, "cooldown_s": 86400},
    }
    if plan.webhook is not None:
        url, secret = plan.webhook
        sections["sinks"] = {"webhooks": [{"url": url, "secret": secret, "kinds": ["entry"]}]}
    path = write_config(workdir / "agent.yaml", data_dir=workdir / "data", **sections)
    config = load_config(path)
    customers = workdir / "customers.json"
    customers.write_text(
        json.dumps(
            [
                {"customer_id": f"c-{i:04d}", "display_name": crash_name(i), "consent": True}
                for i in range(plan.checkins)
            ]
        )
    )
    offers = workdir / "offers.json"
    offers.write_text(json.dumps([{"offer_id": "o-1", "title": "Offer", "category": "shoes", "kind": "discount"}]))
    products = workdir / "products.json"
    products.write_text(json.dumps([{"sku": f"SKU-{i}", "category": f"cat-{i}"} for i in range(SKUS)]))
    conn = connect(config.db_path)
    add_device(conn, Device(MIRROR, "smart-mirror", "mqtt", zone="fitting-rooms"))
    import_customers(conn, customers)
    import_offers(conn, offers)
    import_products(conn, products)
    conn.close()
    return config


def open_session(port: int, client_id: str, topic: str) -> None:
    """Create the agent's persistent session before anything is published, as a first start would."""
    subscribed = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.subscribe(topic, qos=1)
    if not subscribed.wait(10):
        raise TimeoutError("the store broker did not confirm the subscription")
    client.disconnect()
    client.loop_stop()


def mirror_event(i: int) -> dict[str, Any]:
    """The i-th event: each (customer, SKU) sees try-on, try-on, dislike, … so learned state stays
    far from its cap, where one event applied twice or lost always shows."""
    sku, customer, m = i % SKUS, (i // SKUS) % LEARNERS, i // (SKUS * LEARNERS)
    event = "dislike" if m % 3 == 2 else "try_on"
    return {"event": event, "session_id": f"s{i // 5}", "sku": f"SKU-{sku}", "customer_ref": f"c-{customer:04d}"}


def try_ons(count: int) -> int:
    return sum(mirror_event(i)["event"] == "try_on" for i in range(count))


def publish_mirror(port: int, topic: str, count: int, rate: float) -> None:
    """Run in its own process: `count` QoS 1 mirror events at `rate`/s, each confirmed by the broker."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="crash-mirror")
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.monotonic()
    infos = []
    for i in range(count):
        body = {**mirror_event(i), "ts": time.time()}
        infos.append(client.publish(topic, json.dumps(body), qos=1))
        time.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))
    for info in infos:
        info.wait_for_publish(60)
    client.loop_stop()
    client.disconnect()


def _agent(config_path: Path, log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "edge_agent", "run", "--config", str(config_path)],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


def _drained(config: AgentConfig, mirror_events: int) -> bool:
    """Every mirror event stored, its bucket closed and every batch confirmed by the cloud."""
    conn = connect(config.db_path, readonly=True)
    try:
        stored = rows.events_stored(conn, "mirror")
        return stored == mirror_events and not open_counts(conn) and outbox_status(conn)["backlog"] == 0
    finally:
        conn.close()


def run_crash(workdir: Path, plan: CrashPlan, *, on_kill: Callable[[int], None] | None = None) -> CrashReport:
    """Run the whole scenario in `workdir`; the report says what was published and counted."""
    with MosquittoBroker() as store, MosquittoBroker() as cloud:
        config = prepare(workdir, plan, store, cloud)
        consumer = CloudConsumer(cloud.port, config.uplink.topic.format(store_id=config.store_id))
        consumer.start()
        app = StoreApp(config, plan, f"http://127.0.0.1:{config.http.port}")
        open_session(store.port, f"edge-agent-{config.store_id}-mirror", f"{config.topic_prefix}/mirror/+/events")
        topic = f"{config.topic_prefix}/mirror/{MIRROR}/events"
        args = [str(store.port), topic, str(plan.mirror_events), str(plan.mirror_rate)]
        mirror = subprocess.Popen([sys.executable, "-m", "edge_agent.testing.crash", *args])
        threading.Thread(target=app.run, name="store-app", daemon=True).start()
        agent: list[subprocess.Popen[bytes]] = []
        with (workdir / "agent.log").open("ab") as log:
            try:
                _kill_cycles(plan, workdir / "agent.yaml", log, cloud, agent, on_kill)
                cloud.start()
                agent.append(_agent(workdir / "agent.yaml", log))
                if mirror.wait(300) != 0:
                    raise RuntimeError("the mirror publisher failed")
                wait_until(app.done.is_set, within=300)
                if app.error is not None:
                    raise app.error
                wait_until(lambda: _drained(config, plan.mirror_events), within=120)
                agent[-1].send_signal(signal.SIGTERM)
                agent[-1].wait(20)
            finally:
                for proc in (mirror, *agent[-1:]):
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
                consumer.stop()
    return _report(config, plan, app, consumer)


def _kill_cycles(
    plan: CrashPlan,
    config_path: Path,
    log: Any,
    cloud: MosquittoBroker,
    started: list[subprocess.Popen[bytes]],
    on_kill: Callable[[int], None] | None,
) -> None:
    """Start the agent, SIGKILL it at a seeded random moment, maybe flip the cloud broker; `plan.kills` times."""
    rng = random.Random(plan.seed)
    for kill in range(plan.kills):
        agent = _agent(config_path, log)
        started.append(agent)
        time.sleep(rng.uniform(*plan.up_s))
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait(10)
        if rng.random() < plan.cloud_flip_p:
            if cloud.running:
                cloud.stop()
            else:
                cloud.start()
        if on_kill is not None:
            on_kill(kill + 1)


def _report(config: AgentConfig, plan: CrashPlan, app: StoreApp, consumer: CloudConsumer) -> CrashReport:
    conn = connect(config.db_path)
    integrity_result, _ = integrity(conn)
    learned = learned_mismatches(conn, config.learning.half_life_s)
    conn.close()
    return CrashReport(
        kills=plan.kills,
        published={
            "mirror_try_ons": try_ons(plan.mirror_events),
            "alerts_sent": app.checked_in,
            "alert_actions": len(app.acked),
        },
        counted=consumer.totals(),
        integrity=integrity_result,
        batches=len(consumer.batches),
        duplicate_deliveries=consumer.deliveries - len(consumer.batches),
        learned_mismatches=learned,
    )


def learned_mismatches(conn: sqlite3.Connection, half_life_s: float) -> int:
    """Customers whose stored affinities differ from replaying every stored mirror event once, in order."""
    expected: dict[str, tuple[dict[str, float], float | None]] = {}
    teaching = [kind.name for kind in mirror.kinds() if kind.teaches is not None]
    for customer_id, event, category, ts in outcomes.mirror_lessons(conn, teaching):
        held, at = expected.get(customer_id, ({}, None))
        expected[customer_id] = learn_at(held, at, category, SIGNALS[event], ts, half_life_s)
    stored = outcomes.held_affinities(conn)
    names = set(expected) | set(stored)
    return sum(not _close(expected.get(c, ({}, 0.0))[0], stored.get(c, {})) for c in names)


def _close(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) < 1e-6 for k in a)


if __name__ == "__main__":  # the mirror publisher's own process
    publish_mirror(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
