"""Agent configuration: one YAML file validated by pydantic."""

from __future__ import annotations

import os
import re
import secrets
import string
from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..core.errors import ConfigError
from ..core.events import AlertKind
from .yamlio import validate_file

DEFAULT_CONFIG_PATH = Path("/etc/edge-agent/agent.yaml")
CONFIG_ENV = "EDGE_AGENT_CONFIG"

Port = Annotated[int, Field(ge=1, le=65535)]
Rssi = Annotated[int, Field(ge=-120, le=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsConfig(_Model):
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None


def _check_template(value: str) -> str:
    """A topic with at most the `{store_id}` placeholder (checked here, not when `run` formats it)."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise ValueError(f"bad placeholder ({exc}); only {{store_id}} is allowed") from None
    unknown = sorted(fields - {"store_id"})
    if unknown:
        raise ValueError(f"unknown placeholder {{{unknown[0]}}}; only {{store_id}} is allowed")
    if not value or "#" in value or "+" in value:
        raise ValueError("expected a topic without wildcards")
    return value


def _check_filter(value: str) -> str:
    """An MQTT subscription filter: `+` fills a whole level, `#` only the last one."""
    levels = value.split("/")
    for i, level in enumerate(levels):
        if ("+" in level and level != "+") or ("#" in level and (level != "#" or i != len(levels) - 1)):
            raise ValueError(f"{value!r} is not a valid MQTT filter ('+' fills a level, '#' only at the end)")
    if not value:
        raise ValueError("expected an MQTT topic filter")
    return value


def _check_mqtt_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError("expected a URL like mqtt://host:1883 or mqtts://host:8883")
    return url


class MqttConfig(_Model):
    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: str | None = None
    tls: TlsConfig = TlsConfig()
    topic_prefix: str = "store/{store_id}"
    client_id: str | None = None
    # Where `device add --credentials` writes mosquitto's password file and ACL (default: data_dir).
    password_file: Path | None = None
    acl_file: Path | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_mqtt_url(value)

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return _check_template(value)


class BleConfig(_Model):
    adapter: str = "hci0"
    mode: Literal["passive", "active", "off"] = "passive"
    remote_scanners: bool = True
    remote_topic: str = "+/+/BTtoMQTT/+"
    espresense_topic: str = "espresense/devices/+/+"  # the last level is the room, i.e. the scanner

    @field_validator("mode", mode="before")
    @classmethod
    def _off(cls, value: object) -> object:
        return "off" if value is False else value  # YAML reads an unquoted `off` as false

    @field_validator("remote_topic", "espresense_topic")
    @classmethod
    def _filter(cls, value: str) -> str:
        return _check_filter(value)


class HttpConfig(_Model):
    host: str = "0.0.0.0"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080  # 0: any free port (tests, demo)
    staff_token: Annotated[str, Field(min_length=16)]


class PresenceConfig(_Model):
    # Defaults chosen by bench/presence_eval.py (README, "Presence"): -75 dBm missed pocketed
    # phones for minutes after they entered; -80 catches them at the door and still ignores
    # people walking past the window.
    enter_rssi: Rssi = -80
    exit_rssi: Rssi = -97
    exit_min_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    missed_intervals: Annotated[int, Field(ge=2, le=1000)] = 30
    zone_margin_db: Annotated[float, Field(ge=0, le=40)] = 6.0
    zone_dwell_s: Annotated[float, Field(ge=0, le=600)] = 4.0
    scanner_silence_s: Annotated[float, Field(gt=0, le=3600)] = 15.0
    unknown_expiry_s: Annotated[float, Field(gt=0, le=86400)] = 1800.0  # forget tracks of stalled scanners
    rotation_s: Annotated[int, Field(ge=30, le=86400)] = 300
    rotating_uuid: str | None = None


class ZoneConfig(_Model):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    scanners: list[str] = ["local"]


def _parse_hhmm(text: str) -> time:
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text.strip())
    if not match:
        raise ValueError(f"expected HH:MM, got {text!r}")
    return time(int(match.group(1)), int(match.group(2)))


class QuietHours(_Model):
    start: time
    end: time

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: object) -> object:
        if isinstance(value, str):
            if "-" not in value:
                raise ValueError("expected 'HH:MM-HH:MM'")
            start, end = value.split("-", 1)
            return {"start": _parse_hhmm(start), "end": _parse_hhmm(end)}
        return value

    def contains(self, moment: time) -> bool:
        """True if `moment` falls in the window (which may wrap past midnight)."""
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


class ScoringConfig(_Model):
    model: str = "models/offer_scorer.int8.onnx"
    top_k: Annotated[int, Field(ge=1, le=20)] = 3
    cooldown_s: Annotated[int, Field(ge=0)] = 1800
    quiet_hours: QuietHours | None = None
    holdout_pct: Annotated[float, Field(ge=0, le=100)] = 10.0
    max_alerts_per_day: Annotated[int, Field(ge=1, le=100)] = 3


class UplinkConfig(_Model):
    kind: Literal["mqtt", "https", "off"] = "mqtt"
    url: str = "mqtts://cloud.example:8883"
    tls: TlsConfig = TlsConfig()
    topic: str = "retail/{store_id}/aggregates"
    interval_s: Annotated[float, Field(gt=0)] = 60
    max_backlog_mb: Annotated[float, Field(gt=0)] = 256
    protocol: Literal[4, 5] = 4  # 4 = MQTT 3.1.1, 5 = MQTT 5
    # Cloud brokers' limits: AWS IoT Core takes 128 KB per message and 100 publishes/s per connection.
    max_message_bytes: Annotated[int, Field(ge=4096, le=268_435_455)] = 131_072
    max_publish_per_s: Annotated[float, Field(gt=0, le=10_000)] = 50
    downlink: bool = True  # MQTT only: models and catalogs on retail/{store_id}/config/#
    signing_key: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")] | None = None  # Ed25519 public key

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        return _check_template(value)


class PrivacyConfig(_Model):
    k_anonymity: Annotated[int, Field(ge=1)] = 5
    salt: Annotated[str, Field(min_length=16)]
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 7


class CheckinConfig(_Model):
    key: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{32,}$")]
    max_ttl_s: Annotated[int, Field(ge=10, le=86400)] = 300


class StoreConfig(_Model):
    # Below this much free space on the data dir's filesystem the agent sheds what it may drop
    # (dead-letter samples, raw events past retention, the oldest outbox batches; all counted),
    # then refuses inputs until there is room again.
    min_free_mb: Annotated[float, Field(ge=0)] = 50
    # A hard cap on the database file (null: the filesystem is the limit). Reaching it is handled
    # like a full card: inputs are held, nothing is lost, and it resumes when there is room.
    max_db_mb: Annotated[float, Field(gt=0)] | None = None


class AggregatesConfig(_Model):
    bucket_s: Annotated[int, Field(ge=1)] = 3600


ALERT_KINDS: tuple[AlertKind, ...] = tuple(AlertKind)


class WebhookConfig(_Model):
    """A staff messaging tool's webhook: every alert POSTed as JSON, signed, at least once."""

    url: str
    secret: Annotated[str, Field(min_length=16)]
    kinds: list[AlertKind] = list(ALERT_KINDS)
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value


class SinksConfig(_Model):
    webhooks: list[WebhookConfig] = []


class DevicesConfig(_Model):
    auto_register: bool = False
    max_auto_registered: Annotated[int, Field(ge=0, le=100_000)] = 256  # beyond: unknown_device
    # Per-device budget for mirror and till events: beyond it events are still handled (never
    # dropped: they may be a backlog after an outage) but counted per device in status and /metrics.
    rate_per_s: Annotated[float, Field(gt=0)] = 20.0
    burst: Annotated[int, Field(ge=1)] = 200


class OutcomesConfig(_Model):
    attribution_window_s: Annotated[float, Field(gt=0)] = 7200


class LearningConfig(_Model):
    half_life_days: Annotated[float, Field(gt=0)] = 30
    min_support: Annotated[int, Field(ge=1)] = 3

    @property
    def half_life_s(self) -> float:
        return self.half_life_days * 86400


class SocialConfig(_Model):
    """Friends' advice in the dressing room (SPEC §16)."""

    max_seats: Annotated[int, Field(ge=1, le=64)] = 8
    ttl_after_session_s: Annotated[float, Field(gt=0)] = 1800
    max_ttl_s: Annotated[float, Field(gt=0, le=7 * 86400)] = 7200
    looks_topic: str = "retail/{store_id}/social/looks"
    votes_topic: str = "retail/{store_id}/social/votes"
    # The companions' link for the QR code: the box's address as phones in the store reach it
    # (null: http://<this box's LAN address>:<http.port>).
    public_url: str | None = None
    # The chain relay's base URL for friends elsewhere (null: remote sharing is off).
    remote_url: str | None = None

    @field_validator("looks_topic", "votes_topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        return _check_template(value)

    @field_validator("public_url", "remote_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value.rstrip("/")


class AgentConfig(_Model):
    store_id: str
    data_dir: Path = Path("/var/lib/edge-agent")
    mqtt: MqttConfig = MqttConfig()
    ble: BleConfig = BleConfig()
    http: HttpConfig
    presence: PresenceConfig = PresenceConfig()
    zones: list[ZoneConfig] = [ZoneConfig(id="entrance", scanners=["local"])]
    scoring: ScoringConfig = ScoringConfig()
    uplink: UplinkConfig = UplinkConfig()
    privacy: PrivacyConfig
    checkin: CheckinConfig
    store: StoreConfig = StoreConfig()
    aggregates: AggregatesConfig = AggregatesConfig()
    devices: DevicesConfig = DevicesConfig()
    sinks: SinksConfig = SinksConfig()
    outcomes: OutcomesConfig = OutcomesConfig()
    learning: LearningConfig = LearningConfig()
    social: SocialConfig = SocialConfig()

    @field_validator("store_id")
    @classmethod
    def _store_id(cls, value: str) -> str:
        if "." in value:
            raise ValueError(
                f"{value!r} has a '.': RabbitMQ and NATS map topic levels to '.'-separated names, so a dot "
                "would split the store's topics there; use letters, digits, '-' or '_'"
            )
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value):
            raise ValueError(f"{value!r} is not 1-64 letters, digits, '-' or '_'")
        return value

    @model_validator(mode="after")
    def _zones_unique(self) -> AgentConfig:
        seen: set[str] = set()
        for zone in self.zones:
            if zone.id in seen:
                raise ValueError(f"zone id {zone.id!r} appears twice")
            seen.add(zone.id)
        return self

    @property
    def topic_prefix(self) -> str:
        return self.mqtt.topic_prefix.format(store_id=self.store_id)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "edge-agent.db"

    @property
    def mqtt_password_file(self) -> Path:
        return self.mqtt.password_file or self.data_dir / "mosquitto.passwd"

    @property
    def mqtt_acl_file(self) -> Path:
        return self.mqtt.acl_file or self.data_dir / "mosquitto.acl"

    @property
    def socket_path(self) -> Path:
        return self.data_dir / "agent.sock"

    def scanner_zones(self) -> dict[str, str]:
        """Scanner → zone; a scanner named in several zones belongs to the first."""
        return {s: z.id for z in reversed(self.zones) for s in z.scanners}


def resolve_config_path(explicit: Path | None) -> Path:
    """`--config` beats `$EDGE_AGENT_CONFIG` beats /etc/edge-agent/agent.yaml."""
    if explicit is not None:
        return explicit
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else DEFAULT_CONFIG_PATH


def load_config(path: Path) -> AgentConfig:
    """Load and validate a config file; relative `data_dir` is taken from the file's folder."""
    config = validate_file(AgentConfig, path, ConfigError)
    if not config.data_dir.is_absolute():
        config = config.model_copy(update={"data_dir": (path.parent / config.data_dir).resolve()})
    missing = [
        f"{path}: {section}.tls.{name}: file {file} does not exist"
        for section, tls in (("mqtt", config.mqtt.tls), ("uplink", config.uplink.tls))
        for name, file in (("ca", tls.ca), ("cert", tls.cert), ("key", tls.key))
        if file is not None and not (path.parent / file).exists()
    ]
    if missing:
        raise ConfigError("\n".join(missing))
    return config.model_copy(
        update={
            "mqtt": config.mqtt.model_copy(update={"tls": _resolved(config.mqtt.tls, path.parent)}),
            "uplink": config.uplink.model_copy(update={"tls": _resolved(config.uplink.tls, path.parent)}),
        }
    )


def _resolved(tls: TlsConfig, folder: Path) -> TlsConfig:
    """TLS files named relative to the config file's folder."""
    return TlsConfig(**{k: (folder / v).resolve() if v is not None else None for k, v in tls.model_dump().items()})


def generated_secrets() -> dict[str, str]:
    """Fresh random secrets for a new installation."""
    return {
        "staff_token": secrets.token_urlsafe(24),
        "salt": secrets.token_hex(16),
        "checkin_key": secrets.token_hex(32),
    }


def default_config(data_dir: Path, store_id: str = "demo-store") -> AgentConfig:
    """Embedded defaults (used by `demo`), with fresh secrets."""
    s = generated_secrets()
    return AgentConfig(
        store_id=store_id,
        data_dir=data_dir,
        http=HttpConfig(staff_token=s["staff_token"]),
        privacy=PrivacyConfig(salt=s["salt"]),
        checkin=CheckinConfig(key=s["checkin_key"]),
    )


CONFIG_TEMPLATE = """\
# edge-agent configuration. Every key is documented in the README ("Configuration").
# Secrets below were generated by `edge-agent init`; keep this file mode 0600.

store_id: {store_id}
# SQLite database, model files and the outbox live here.
data_dir: {data_dir}

mqtt:
  url: "mqtt://127.0.0.1:1883"     # the store broker (mqtts:// for TLS)
  username: null
  password: null
  tls: {{ca: null, cert: null, key: null}}
  topic_prefix: "store/{{store_id}}"

ble:
  adapter: hci0
  mode: passive                    # passive | active | off
  remote_scanners: true            # Theengs Gateway / OpenMQTTGateway scanners over MQTT
  remote_topic: "+/+/BTtoMQTT/+"
  espresense_topic: "espresense/devices/+/+"   # ESPresense rooms; the last level is the room (scanner)

http:
  host: 0.0.0.0
  port: 8080
  staff_token: "{staff_token}"     # tablets log in with this token

presence:
  enter_rssi: -80                  # dBm a beacon must reach (twice) to count as entered
  exit_rssi: -97                   # below this everywhere (median), a visitor has left
  exit_min_s: 30                   # never decide an exit on less silence than this
  missed_intervals: 30             # ... or than this many of the phone's own advertising intervals
  zone_margin_db: 6                # another zone must be this much louder ...
  zone_dwell_s: 4                  # ... for this long before the visitor moves there
  scanner_silence_s: 15            # a scanner silent this long is stalled: its visitors are unknown
  rotation_s: 300                  # rotating identifier slot length
  rotating_uuid: null              # the chain's loyalty UUID for rotating iBeacons

zones:
  - {{id: entrance, scanners: [local]}}

scoring:
  model: models/offer_scorer.int8.onnx
  top_k: 3
  cooldown_s: 1800                 # no second alert for a customer within this time
  quiet_hours: null                # e.g. "21:00-08:00"
  holdout_pct: 10                  # share of customers held out (no alert) to measure uplift
  max_alerts_per_day: 3            # frequency cap per customer

uplink:
  kind: mqtt                       # mqtt | https | off
  url: "mqtts://cloud.example:8883"
  tls: {{ca: null, cert: null, key: null}}
  topic: "retail/{{store_id}}/aggregates"
  interval_s: 60
  max_backlog_mb: 256
  protocol: 4                      # 4 = MQTT 3.1.1, 5 = MQTT 5
  max_message_bytes: 131072        # larger batches are split into parts (AWS IoT Core: 128 KB)
  max_publish_per_s: 50            # AWS IoT Core allows 100 per connection
  downlink: true                   # accept models and offer catalogs on retail/{store_id}/config/#
  signing_key: null                # Ed25519 public key (hex) the data team signs them with

privacy:
  k_anonymity: 5                   # counts below this are suppressed in aggregates
  salt: "{salt}"
  retention_days: 7

checkin:
  key: "{checkin_key}"             # HMAC key the store app signs check-ins with
  max_ttl_s: 300

store:
  min_free_mb: 50                  # below this free space: shed what may go, then refuse inputs
  max_db_mb: null                  # optional hard cap on the database file (handled like a full card)

aggregates:
  bucket_s: 3600

devices:
  auto_register: false
  rate_per_s: 20                   # per-device budget for mirror and till events (beyond: counted)
  burst: 200

sinks:
  # Staff messaging tools (opt-in: a customer's display name leaves the box this way). Each alert is
  # POSTed as JSON with X-Edge-Agent-Signature: sha256=<HMAC of the body> and Idempotency-Key.
  webhooks: []
  # - {{url: "https://chat.example/hooks/store-0042", secret: "<at least 16 characters>",
  #    kinds: [entry, size_request], timeout_s: 10}}

outcomes:
  attribution_window_s: 7200       # a sale up to 2 h after an entry belongs to that visit

learning:
  half_life_days: 30               # learned tastes fade by half in this time
  min_support: 3                   # an "also liked" pair needs this many sessions or sales

social:                            # friends' advice at the mirror (shared looks, votes)
  max_seats: 8                     # browsers that may vote on one look
  ttl_after_session_s: 1800        # a look's link works this long after the mirror session ends
  max_ttl_s: 7200                  # and never longer than this after it was shared
  looks_topic: "retail/{{store_id}}/social/looks"   # on the uplink broker: look cards for the relay
  votes_topic: "retail/{{store_id}}/social/votes"   # on the uplink broker: signed votes back
  public_url: null                 # companions' link base, e.g. "http://192.168.1.20:8080" (null: guessed)
  remote_url: null                 # the chain relay's base URL (null: friends elsewhere are off)
"""


def render_config(store_id: str, data_dir: Path) -> str:
    """A commented config file with fresh secrets."""
    return CONFIG_TEMPLATE.format(store_id=store_id, data_dir=data_dir, **generated_secrets())
