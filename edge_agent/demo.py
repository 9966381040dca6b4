"""`edge-agent demo`: a simulated store on embedded defaults, with nothing but Python."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from .config.agent import AgentConfig, AggregatesConfig, DevicesConfig, MqttConfig, ZoneConfig, default_config
from .config.profiles import ProfileRegistry
from .core.events import Alert, AlertKind, BeaconId
from .core.tasks import cancel_and_wait
from .decoders.line import with_checksum
from .field.devices import add_device, build_device
from .field.imports import import_customers, import_offers, import_products
from .links.client import MqttClient, Options
from .runtime import Agent
from .sim.ble import BeaconScript, Keyframe, Scenario, SimulatedBleSource
from .sim.broker import MosquittoBroker, mosquitto_binary
from .sim.mirror import MirrorSimulator
from .sim.pos import TillSimulator
from .sim.scenarios import LOYALTY_UUID
from .sim.serial import PtyPort
from .sim.storeworld import DOOR, SCANNERS, STREET_Y, Person, make_visitor, mean_rssi
from .sources.build import build_sources
from .store import connect
from .store.devices import registered_devices

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


PRODUCTS = [
    {"sku": "SKU-RUN-1", "title": "Trail running shoe", "category": "shoes", "price": 120},
    {"sku": "SKU-RUN-2", "title": "Road running shoe", "category": "shoes", "price": 110},
    {"sku": "SKU-COAT-7", "title": "Wool coat", "category": "outerwear", "price": 240},
    {
        "sku": "SKU-SCARF-3",
        "title": "Cashmere scarf",
        "category": "accessories",
        "price": 70,
        "accessory_of": "SKU-COAT-7",
    },
    {"sku": "SKU-BAG-2", "title": "Leather tote", "category": "bags", "price": 180},
]
DEMO_HTTP_PORT = 8080
FIRST_CUSTOMER = "c-1001"  # Ada: walks in within seconds, tries a coat, asks for a size, buys it


class ConsoleAlerts:
    """One line per story beat on the terminal (the tablet page shows the same, live)."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._told: set[str] = set()

    def beat(self, text: str, *, once: str | None = None) -> None:
        """`once`: a key for news that is only news the first time (a suggestion the mirror repeats)."""
        if once is not None:
            if once in self._told:
                return
            self._told.add(once)
        self._console.print(f"{time.strftime('%H:%M:%S')}  {text}", markup=False, highlight=False)

    async def deliver(self, alert: Alert) -> None:
        if alert.kind == AlertKind.SIZE_REQUEST:
            asked = alert.asked
            who = f" for {alert.display_name}" if alert.display_name else ""
            size, title = (asked.size, asked.title) if asked else (None, None)
            self.beat(f"SIZE REQUEST  size {size} of the {title}{who} in {alert.zone} → tablets")
            return
        offers = "; ".join(f"{o.title} ({o.reason})" for o in alert.offers) or "no eligible offers"
        hints = " ".join(f"[{h.text}]" for h in alert.hints)
        self.beat(f"ALERT  {alert.display_name} ({alert.tier}) entered {alert.zone} → {offers} {hints}".rstrip())


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
    """Demo customers, offers, products and devices, through the same code as the CLI."""
    conn = connect(config.db_path)
    try:
        imports = (
            ("customers", CUSTOMERS, import_customers),
            ("offers", OFFERS, import_offers),
            ("products", PRODUCTS, import_products),
        )
        for name, rows, importer in imports:
            path = config.data_dir / f"demo-{name}.json"
            path.write_text(json.dumps(rows))
            importer(conn, path)
        profiles = ProfileRegistry.load()
        counter = build_device(
            config, profiles, "door-counter", "serial-people-counter", zone=config.zones[0].id, port=str(counter_port)
        )
        add_device(conn, counter)
        add_device(conn, build_device(config, profiles, "mirror-1", "smart-mirror", zone="fitting-rooms"))
        add_device(conn, build_device(config, profiles, "till-1", "pos-terminal", zone="entrance"))
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


def first_visitor() -> Person:
    """Ada: at the door within seconds, the aisles, the fitting rooms for a while, then out."""
    path = [
        (0.5, 2.0, STREET_Y), (3.0, *DOOR), (5.0, 1.0, 0.0), (22.0, 15.0, 2.0), (36.0, 26.0, 6.0),
        (115.0, 26.0, 6.0), (130.0, 15.0, 2.0), (142.0, *DOOR), (146.0, 2.0, STREET_Y), (165.0, 25.0, STREET_Y),
    ]  # fmt: skip
    return Person(BeaconId("ibeacon", "first"), True, True, 0.0, path)


def walking_store(
    known: list[str],
    *,
    first: str | None = None,
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
    people: list[tuple[str | None, Person]] = [(first, first_visitor())] if first else []
    for i, ident in enumerate(idents):
        t += rng.expovariate(rate)
        t0 = min(t, duration_s * 0.6)
        people.append((ident, make_visitor(rng, i, ident is not None, t0=t0, stay_s=stay_s, browse_s=browse_s)))
    for ident, person in people:
        end = person.waypoints[-1][0]
        frames = [
            Keyframe(t=step, rssi=max(-130.0, min(0.0, mean_rssi(person, step, scanner))), scanner=scanner)
            for scanner in SCANNERS
            for step in [person.waypoints[0][0] + 2.0 * k for k in range(int((end - person.waypoints[0][0]) / 2) + 1)]
        ]
        address = ":".join(f"{b:02X}" for b in rng.randbytes(6))
        stranger = f"{LOYALTY_UUID[:-4]}{rng.randrange(16**4):04x}:{rng.randrange(65536)}:{rng.randrange(65536)}"
        beacon = ident or stranger
        beacons.append(
            BeaconScript(
                address=address,
                identifiers={"ibeacon": beacon} if beacon else {},
                noise_db=4,
                drop_rate=0.15,
                path=frames,
            )
        )
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
    if agent.config.http.port != DEMO_HTTP_PORT:
        console.print(f"port {DEMO_HTTP_PORT} is taken on this machine: the pages are on another port instead")
    console.print(f"tablet page: [bold]{agent.http_url}/[/]   staff token: [bold]{agent.config.http.staff_token}[/]")
    console.print(f"insights:    [bold]{agent.http_url}/insights[/]")


def ada_session(customer_ref: str | None) -> list[dict[str, object]]:
    sid = f"demo-{customer_ref or 'walk-in'}"
    events: list[dict[str, object]] = [
        {"event": "session_start", "session_id": sid},
        {"event": "try_on", "session_id": sid, "sku": "SKU-COAT-7"},
        {"event": "like", "session_id": sid, "sku": "SKU-COAT-7"},
        {"event": "try_on", "session_id": sid, "sku": "SKU-SCARF-3"},
        {"event": "like", "session_id": sid, "sku": "SKU-SCARF-3"},
        {"event": "share_start", "session_id": sid, "circle": "companions", "nickname": "Ada"},
        {"event": "size_request", "session_id": sid, "sku": "SKU-COAT-7", "size": "M"},
        {"event": "session_end", "session_id": sid},
    ]
    if customer_ref is None:
        return events[:2] + events[-1:]  # another shopper tries the same coat
    return [{**e, "customer_ref": customer_ref} for e in events]


async def story(mqtt_url: str, config: AgentConfig, beats: ConsoleAlerts, speed: float) -> None:
    """Ada's visit: the fitting room, the mirror, a size request, another shopper, the till."""
    mirror = MirrorSimulator(mqtt_url, config.topic_prefix)
    till = TillSimulator(mqtt_url, config.topic_prefix)
    await asyncio.sleep(40 / speed)
    beats.beat("MIRROR  Ada tries on the wool coat and a cashmere scarf at mirror-1, likes both, and shares the look")
    await mirror.play(ada_session(FIRST_CUSTOMER), step_s=2 / speed)
    await asyncio.sleep(6 / speed)
    beats.beat("MIRROR  another shopper tries on the same wool coat")
    await mirror.play(ada_session(None), step_s=2 / speed)
    await asyncio.sleep(20 / speed)
    await till.sell("T-0001", [("SKU-COAT-7", 1, 240.0)], customer_ref=FIRST_CUSTOMER)
    beats.beat("TILL  Ada buys the wool coat (240.00), attributed to her visit; her profile now leans to outerwear")
    await mirror.run(["SKU-RUN-1", "SKU-RUN-2", "SKU-COAT-7", "SKU-SCARF-3"], every_s=30 / speed, step_s=2 / speed)


async def listen(mqtt_url: str, config: AgentConfig, beats: ConsoleAlerts) -> None:
    """What the mirror shows and what reaches the (stand-in) cloud."""
    host, port = mqtt_url.removeprefix("mqtt://").split(":")
    cloud = config.uplink.topic.format(store_id=config.store_id)
    async with MqttClient(host, int(port), Options("demo-listener")) as client:
        social = f"{config.topic_prefix}/mirror/+/social"
        await client.subscribe([(f"{config.topic_prefix}/mirror/+/suggestions", 1), (cloud, 1), (social, 1)])
        batches, voted = 0, False
        async for message in client.messages():
            body = json.loads(message.payload)
            if message.topic.endswith("/social"):
                voted = told_social(body, beats, voted)
            elif message.topic == cloud:
                batches += 1
                metrics = sum(len(b["metrics"]) for b in body.get("buckets", []))
                if batches == 1:  # later batches are the same news; `edge-agent status` counts them
                    beats.beat(f"CLOUD  first batch arrived: {metrics} privacy-safe metrics, no names or ids")
            elif body.get("also_liked"):
                trigger = body["trigger"]["sku"]
                liked = ", ".join(f"{a['title']} (seen together {a['support']}x)" for a in body["also_liked"])
                same = "|".join([trigger, *(a["title"] for a in body["also_liked"])])
                beats.beat(f"MIRROR  suggests to go with the {trigger}: {liked}", once=same)


_companions: set[asyncio.Task[None]] = set()  # held until done (the loop keeps only weak references)


def told_social(state: dict[str, Any], beats: ConsoleAlerts, voted: bool) -> bool:
    """The mirror's social message: the link for the QR code, then the votes as they come."""
    url = (state.get("urls") or {}).get("companions")
    if url and not voted:
        beats.beat(f"SHARE  Ada's look is open for her companions: {url} (a phone in the store opens it)")
        task = asyncio.get_running_loop().create_task(companion(url, beats), name="demo-companion")
        _companions.add(task)
        task.add_done_callback(_companions.discard)
        return True
    up = sum(t["up"] for t in state.get("tally", {}).values())
    down = sum(t["down"] for t in state.get("tally", {}).values())
    advice = max(state.get("advice", {}).values(), key=abs, default=0.0)
    if up or down:
        beats.beat(f"MIRROR  friends: {up} up, {down} down (advice {advice:+.2f})", once=f"social|{up}|{down}")
    return voted


async def companion(url: str, beats: ConsoleAlerts) -> None:
    """A companion's phone (a stand-in): opens the vote page and says yes to the coat."""
    import aiohttp

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as phone:
        async with phone.get(url) as page:
            if page.status != 200:
                return
        async with phone.post(f"{url}/votes", json={"sku": "SKU-COAT-7", "value": "up"}) as answer:
            if answer.status == 200:
                beats.beat("VOTE  a companion taps Yes on the wool coat; Ada's card on the tablet shows it")


async def follow(agent: Agent, beats: ConsoleAlerts, speed: float) -> None:
    """The tablet card follows Ada, read as a tablet reads it (`GET /api/alerts`): the zone she is
    in, and when she leaves."""
    import aiohttp

    last: dict[str, Any] | None = None
    signed_in = {"Authorization": f"Bearer {agent.config.http.staff_token}"}
    async with aiohttp.ClientSession(headers=signed_in) as tablet:
        while True:
            await asyncio.sleep(0.5 / speed)
            card = await _newest_entry_card(tablet, agent.http_url, FIRST_CUSTOMER)
            if card is None:
                continue
            if last is not None and card["zone"] != last["zone"]:
                beats.beat(f"ZONE  Ada's card follows her: {card['zone'].replace('-', ' ')}")
            if card.get("left") and not (last is not None and last.get("left")):
                beats.beat("LEFT  Ada left the store")
            last = card


async def _newest_entry_card(tablet: Any, url: str | None, customer_id: str) -> dict[str, Any] | None:
    import aiohttp

    if not url:
        return None
    try:
        async with tablet.get(f"{url}/api/alerts", params={"limit": "50"}) as answer:
            cards = await answer.json() if answer.status == 200 else []
    except aiohttp.ClientError:
        return None
    # Newest first; size requests carry a `kind`, entry cards do not.
    return next((c for c in cards if c.get("customer_id") == customer_id and "kind" not in c), None)


def demo_config(tmp: Path, mqtt_url: str | None, speed: float = 1.0) -> AgentConfig:
    base = default_config(tmp)
    uplink = (
        base.uplink.model_copy(update={"url": mqtt_url, "interval_s": 5.0, "downlink": False})
        if mqtt_url
        else base.uplink.model_copy(update={"kind": "off"})
    )
    return base.model_copy(
        update={
            "mqtt": MqttConfig(url=mqtt_url or "mqtt://127.0.0.1:1"),
            "uplink": uplink,  # a stand-in cloud on the same private broker: nothing leaves this machine
            "aggregates": AggregatesConfig(bucket_s=max(1, round(60 / speed))),  # a store minute per bucket
            "devices": DevicesConfig(auto_register=True),
            "privacy": base.privacy.model_copy(update={"k_anonymity": 1}),
            "scoring": base.scoring.model_copy(update={"cooldown_s": 120, "holdout_pct": 0}),
            "learning": base.learning.model_copy(update={"min_support": 1}),
            "http": base.http.model_copy(update={"port": DEMO_HTTP_PORT if port_free(DEMO_HTTP_PORT) else 0}),
            "zones": DEMO_ZONES,
        }
    )


async def run_demo(stop: asyncio.Event, *, speed: float, duration: float | None, console: Console) -> AgentConfig:
    with (
        tempfile.TemporaryDirectory(prefix="edge-agent-demo-") as tmp,
        _maybe_broker(console) as mqtt_url,
        PtyPort(Path(tmp) / "ttyDEMO0") as counter_port,
    ):
        config = demo_config(Path(tmp), mqtt_url, speed)
        seed(config, counter_port.path)
        ada = next(str(c["ibeacon"]) for c in CUSTOMERS if c["customer_id"] == FIRST_CUSTOMER)
        known = [str(c["ibeacon"]) for c in CUSTOMERS if str(c["ibeacon"]) != ada]
        scenario = walking_store(known, first=ada, anonymous=12, duration_s=240)
        sources = build_sources(config, registered_devices(config.db_path), radio=False, mqtt=mqtt_url is not None)
        sources.append(SimulatedBleSource(scenario, speed=speed, loop_forever=True))
        beats = ConsoleAlerts(console)
        agent = Agent(config, sources, extra_sinks=[beats])
        console.print(f"[bold]edge-agent demo[/] — store {config.store_id}, data in {tmp}")
        console.print(
            f"{len(scenario.beacons)} visitors per {scenario.duration_s:.0f} s loop, speed ×{speed:g}; "
            f"door counter on {counter_port.path}; Ctrl-C to stop"
        )
        if duration is not None:
            asyncio.get_running_loop().call_later(duration, stop.set)
        async with asyncio.TaskGroup() as tg:
            helpers = [
                tg.create_task(feed_counter(counter_port, 5 / speed), name="demo-counter"),
                tg.create_task(announce(agent, console), name="demo-announce"),
                tg.create_task(follow(agent, beats, speed), name="demo-follow"),
            ]
            if mqtt_url is not None:
                helpers.append(tg.create_task(story(mqtt_url, config, beats, speed), name="demo-story"))
                helpers.append(tg.create_task(listen(mqtt_url, config, beats), name="demo-listen"))
            await agent.run(stop)
            # A single cancel can be swallowed inside a library's wait_for on Python 3.11 (see tasks.py).
            await cancel_and_wait(helpers)
        snap = agent.stats.snapshot()
        console.print(
            f"stopped: {snap['counters'].get('ble_adverts', 0)} adverts, "
            f"{snap['counters'].get('entries_alert', 0)} alerts, "
            f"{sum(d['events'] for d in snap['devices'].values())} device events"
        )
        return config
