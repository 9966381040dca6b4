"""`edge-agent demo`: a simulated store on embedded defaults, with nothing but Python."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

from rich.console import Console

from .catalog import import_customers, import_offers
from .config import AgentConfig, AggregatesConfig, DevicesConfig, MqttConfig, ZoneConfig, default_config
from .decoders.line import with_checksum
from .devices import add_device, build_device
from .events import Alert
from .profiles import ProfileRegistry
from .runtime import Agent
from .sim.ble import BeaconScript, Keyframe, Scenario, SimulatedBleSource
from .sim.broker import MosquittoBroker, mosquitto_binary
from .sim.mirror import MirrorSimulator
from .sim.scenarios import LOYALTY_UUID
from .sim.serial import PtyPort
from .sim.storeworld import SCANNERS, make_visitor, mean_rssi
from .sources.build import build_sources
from .store import connect

CUSTOMERS = [
    {
        "customer_id": "c-1001",
        "display_name": "Ada L.",
        "tier": "gold",
        "consent": True,
        "ibeacon": f"{LOYALTY_UUID}:100:1",
        "preferred_categories": "shoes;bags",
        "visits_90d": 7,
        "spend_90d": 640,
    },
    {
        "customer_id": "c-1002",
        "display_name": "Grace H.",
        "tier": "platinum",
        "consent": True,
        "ibeacon": f"{LOYALTY_UUID}:100:2",
        "preferred_categories": "outerwear",
        "visits_90d": 12,
        "spend_90d": 2300,
    },
    {
        "customer_id": "c-1003",
        "display_name": "Alan T.",
        "tier": "silver",
        "consent": True,
        "ibeacon": f"{LOYALTY_UUID}:100:3",
        "preferred_categories": "accessories",
        "visits_90d": 2,
        "spend_90d": 90,
    },
    {
        "customer_id": "c-1004",
        "display_name": "Not Consented",
        "tier": "gold",
        "consent": False,
        "ibeacon": f"{LOYALTY_UUID}:100:4",
        "preferred_categories": "shoes",
        "visits_90d": 3,
        "spend_90d": 300,
    },
]
OFFERS = [
    {
        "offer_id": "o-shoes-15",
        "title": "15% off running shoes",
        "category": "shoes",
        "kind": "discount",
        "skus": "SKU-RUN-1;SKU-RUN-2",
        "value": "15%",
    },
    {
        "offer_id": "o-bag-care",
        "title": "Free leather care kit with any bag",
        "category": "bags",
        "kind": "accessory",
        "min_tier": "silver",
        "value": "kit",
    },
    {
        "offer_id": "o-coat-fit",
        "title": "Personal coat fitting",
        "category": "outerwear",
        "kind": "service",
        "min_tier": "gold",
    },
    {
        "offer_id": "o-scarf",
        "title": "Matching scarf, 20% off",
        "category": "accessories",
        "kind": "accessory",
        "value": "20%",
    },
    {
        "offer_id": "o-night",
        "title": "VIP late-night shopping invite",
        "category": "event",
        "kind": "event",
        "min_tier": "platinum",
    },
]


class ConsoleAlerts:
    """Prints each alert as it is decided (the tablet page shows the same)."""

    def __init__(self, console: Console) -> None:
        self._console = console

    async def deliver(self, alert: Alert) -> None:
        offers = "; ".join(f"{o.title} ({o.score:.2f}: {o.reason})" for o in alert.offers) or "no eligible offers"
        self._console.print(
            f"ALERT {alert.display_name} [{alert.tier}] entered {alert.zone} → {offers}", markup=False, highlight=False
        )


@contextlib.contextmanager
def _maybe_broker(console: Console) -> Iterator[str | None]:
    if mosquitto_binary() is None:
        console.print("mosquitto not found: no MQTT (alerts, mirror); install mosquitto to see them", style="yellow")
        yield None
        return
    with MosquittoBroker() as broker:
        console.print(f"MQTT: a private mosquitto on {broker.url} carries alerts and mirror events")
        yield broker.url


def seed(config: AgentConfig, counter_port: Path) -> None:
    """Demo customers, offers and devices, through the same code as the CLI."""
    conn = connect(config.db_path)
    try:
        for name, rows, importer in (("customers", CUSTOMERS, import_customers), ("offers", OFFERS, import_offers)):
            path = config.data_dir / f"demo-{name}.json"
            path.write_text(json.dumps(rows))
            importer(conn, path)
        profiles = ProfileRegistry.load()
        counter = build_device(
            config, profiles, "door-counter", "serial-people-counter", zone=config.zones[0].id, port=str(counter_port)
        )
        add_device(conn, counter)
    finally:
        conn.close()


async def feed_counter(port: PtyPort, every_s: float) -> None:
    """The door counter: cumulative in/out counts on the line protocol."""
    rng = random.Random(5)
    inside = out = seq = 0
    while True:
        inside += rng.randint(0, 3)
        out = min(inside, out + rng.randint(0, 2))
        seq += 1
        port.write(with_checksum(f"in={inside},out={out},seq={seq}"))
        await asyncio.sleep(every_s)


DEMO_ZONES = [
    ZoneConfig(id="entrance", scanners=["entrance"]),
    ZoneConfig(id="aisles", scanners=["aisles"]),
    ZoneConfig(id="fitting-rooms", scanners=["fitting"]),
]


def walking_store(
    known: list[str],
    *,
    anonymous: int,
    duration_s: float,
    seed: int = 7,
    stay_s: tuple[float, float] = (60, 150),
    browse_s: tuple[float, float] = (10, 30),
) -> Scenario:
    """Visitors arriving as a Poisson process and walking entrance → aisles → fitting rooms → out,
    heard by three scanners through the evaluation's radio model (noise and drops added by the player)."""
    rng = random.Random(seed)
    idents: list[str | None] = [*known, *([None] * anonymous)]
    rng.shuffle(idents)
    rate = len(idents) / (duration_s * 0.6)
    beacons, t = [], 0.0
    for i, ident in enumerate(idents):
        t += rng.expovariate(rate)
        person = make_visitor(
            rng, i, ident is not None, t0=min(t, duration_s * 0.6), stay_s=(60, 150), browse_s=(10, 30)
        )
        end = person.waypoints[-1][0]
        frames = [
            Keyframe(t=step, rssi=max(-130.0, min(0.0, mean_rssi(person, step, scanner))), scanner=scanner)
            for scanner in SCANNERS
            for step in [person.waypoints[0][0] + 2.0 * k for k in range(int((end - person.waypoints[0][0]) / 2) + 1)]
        ]
        address = ":".join(f"{b:02X}" for b in rng.randbytes(6))
        beacon = ident or f"{LOYALTY_UUID[:-4]}{rng.randrange(16**4):04x}:{rng.randrange(65536)}:{rng.randrange(65536)}"
        beacons.append(BeaconScript(address=address, ibeacon=beacon, noise_db=4, drop_rate=0.15, path=frames))
    return Scenario(duration_s=duration_s, seed=seed, beacons=beacons)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


async def announce(agent: Agent, console: Console) -> None:
    await agent.ready.wait()
    console.print(f"tablet page: [bold]{agent.http_url}/[/]   staff token: [bold]{agent.config.http.staff_token}[/]")


async def run_demo(stop: asyncio.Event, *, speed: float, duration: float | None, console: Console) -> AgentConfig:
    with (
        tempfile.TemporaryDirectory(prefix="edge-agent-demo-") as tmp,
        _maybe_broker(console) as mqtt_url,
        PtyPort(Path(tmp) / "ttyDEMO0") as counter_port,
    ):
        base = default_config(Path(tmp))
        config = base.model_copy(
            update={
                "mqtt": MqttConfig(url=mqtt_url or "mqtt://127.0.0.1:1"),
                "aggregates": AggregatesConfig(bucket_s=60),
                "devices": DevicesConfig(auto_register=True),
                "privacy": base.privacy.model_copy(update={"k_anonymity": 1}),
                "scoring": base.scoring.model_copy(update={"cooldown_s": 120}),
                "http": base.http.model_copy(update={"port": 8080 if port_free(8080) else 0}),
                "zones": DEMO_ZONES,
            }
        )
        seed(config, counter_port.path)
        known = [str(c["ibeacon"]) for c in CUSTOMERS]
        scenario = walking_store(known, anonymous=12, duration_s=240)
        with closing(connect(config.db_path)) as conn:
            sources = build_sources(config, conn, radio=False, mqtt=mqtt_url is not None)
        sources.append(SimulatedBleSource(scenario, speed=speed, loop_forever=True))
        agent = Agent(config, sources)
        agent.extra_sinks.append(ConsoleAlerts(console))
        console.print(f"[bold]edge-agent demo[/] — store {config.store_id}, data in {tmp}")

        console.print(
            f"{len(scenario.beacons)} visitors per {scenario.duration_s:.0f} s loop, speed ×{speed:g}; "
            f"door counter on {counter_port.path}; Ctrl-C to stop"
        )
        if duration is not None:
            asyncio.get_running_loop().call_later(duration, stop.set)
        async with asyncio.TaskGroup() as tg:
            devices = [
                tg.create_task(feed_counter(counter_port, 5 / speed), name="demo-counter"),
                tg.create_task(announce(agent, console), name="demo-announce"),
            ]
            if mqtt_url is not None:
                mirror = MirrorSimulator(mqtt_url, config.topic_prefix)
                skus = ["SKU-RUN-1", "SKU-RUN-2", "SKU-COAT-7", "SKU-SCARF-3"]
                devices.append(
                    tg.create_task(mirror.run(skus, every_s=30 / speed, step_s=2 / speed), name="demo-mirror")
                )
            await agent.run(stop)
            for task in devices:
                task.cancel()
        snap = agent.stats.snapshot()
        console.print(
            f"stopped: {snap['counters'].get('ble_adverts', 0)} adverts, "
            f"{snap['counters'].get('entries_alert', 0)} alerts, "
            f"{sum(d['events'] for d in snap['devices'].values())} device events"
        )
        return config
