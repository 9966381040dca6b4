"""Config: precedence, `init`, and one readable line with exit code 2 for every bad file."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.config.agent import CONFIG_ENV, load_config, render_config, resolve_config_path
from edge_agent.core.errors import ConfigError


def test_precedence_is_flag_then_env_then_etc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "env.yaml"))
    assert resolve_config_path(tmp_path / "flag.yaml") == tmp_path / "flag.yaml"
    assert resolve_config_path(None) == tmp_path / "env.yaml"
    monkeypatch.delenv(CONFIG_ENV)
    assert resolve_config_path(None) == Path("/etc/edge-agent/agent.yaml")


def test_rendered_config_loads_with_fresh_secrets(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(render_config("store-0042", Path("data")))
    b.write_text(render_config("store-0042", Path("data")))
    ca, cb = load_config(a), load_config(b)
    assert ca.store_id == "store-0042"
    assert ca.topic_prefix == "store/store-0042"
    assert ca.data_dir == (tmp_path / "data").resolve()
    assert ca.http.staff_token != cb.http.staff_token
    assert ca.privacy.salt != cb.privacy.salt
    assert ca.checkin.key != cb.checkin.key


def test_init_writes_0600_and_refuses_to_overwrite(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "etc" / "agent.yaml"
    first = cli("init", "--config", path, "--store-id", "store-7", "--data-dir", tmp_path / "var")
    assert first.code == 0, first.err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_config(path).store_id == "store-7"
    text = path.read_text()
    again = cli("init", "--config", path)
    assert again.code == 2
    assert "already exists" in again.err and "--force" in again.err
    assert path.read_text() == text
    forced = cli("init", "--config", path, "--force")
    assert forced.code == 0
    assert path.read_text() != text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _good(tmp_path: Path) -> str:
    return render_config("store-1", tmp_path / "data")


BAD_CASES = {
    "missing file": (None, "file not found", None),
    "bad yaml": (lambda t: t.replace("store_id: store-1", "store_id: [unclosed"), "invalid YAML", None),
    "unknown key": (lambda t: t.replace("  adapter: hci0", "  adaptr: hci0"), "ble.adaptr: unknown key", 16),
    "wrong type": (lambda t: t.replace("port: 8080", "port: eighty"), "http.port: expected a valid integer", 24),
    "out of range": (
        lambda t: t.replace("port: 8080", "port: 70000"),
        "http.port: expected less than or equal to 65535",
        24,
    ),
    "bad enum": (
        lambda t: t.replace("mode: passive", "mode: loud"),
        "ble.mode: expected 'passive', 'active' or 'off'",
        17,
    ),
    "missing secret": (
        lambda t: t.replace('  staff_token: "', '  staff_tokn: "'),
        "http.staff_token: required key is missing",
        23,
    ),
    "bad url": (lambda t: t.replace('url: "mqtt://127.0.0.1:1883"', 'url: "http://x"'), "mqtt.url: expected a URL", 9),
}


BAD_CASES.update(
    {
        "unknown placeholder": (
            lambda t: t.replace('topic_prefix: "store/{store_id}"', 'topic_prefix: "store/{nope}"'),
            "mqtt.topic_prefix: unknown placeholder {nope}",
            None,
        ),
        "broken placeholder": (
            lambda t: t.replace('topic_prefix: "store/{store_id}"', 'topic_prefix: "{store_id"'),
            "mqtt.topic_prefix: bad placeholder",
            None,
        ),
        "uplink placeholder": (
            lambda t: t.replace('topic: "retail/{store_id}/aggregates"', 'topic: "retail/{nope}"'),
            "uplink.topic: unknown placeholder",
            None,
        ),
        "bad filter": (
            lambda t: t.replace('remote_topic: "+/+/BTtoMQTT/+"', 'remote_topic: "#/x"'),
            "ble.remote_topic: '#/x' is not a valid MQTT filter",
            None,
        ),
        "missing ca file": (
            lambda t: t.replace("tls: {ca: null, cert: null, key: null}", "tls: {ca: /nope/ca.pem}", 1),
            "mqtt.tls.ca: file /nope/ca.pem does not exist",
            None,
        ),
        "dotted store id": (
            lambda t: t.replace("store_id: store-1", "store_id: store.1"),
            "store_id: 'store.1' has a '.': RabbitMQ and NATS map topic levels",
            4,
        ),
        "aliases": (lambda t: "a: &a [x, x]\nb: &b [*a, *a]\n" + t, "YAML aliases (*name) are not allowed", 2),
    }
)


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_config_names_file_line_and_key_in_one_line_per_mistake(cli, tmp_path: Path, case: str) -> None:  # type: ignore[no-untyped-def]
    mutate, expected, line = BAD_CASES[case]
    path = tmp_path / "agent.yaml"
    if mutate is not None:
        text = mutate(_good(tmp_path))
        assert text != _good(tmp_path) or case == "missing file", "the mutation did not apply"
        path.write_text(text)
    result = cli("device", "list", "--config", path)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert all(str(path) in one for one in lines), result.err
    matching = [one for one in lines if expected in one]
    assert matching, result.err
    if line is not None:
        assert f"{path}:{line}:" in matching[0]
    assert "Traceback" not in result.err


def test_every_mistake_is_listed_not_only_the_first(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "agent.yaml"
    text = _good(tmp_path).replace("port: 8080", "port: eighty").replace("mode: passive", "mode: loud")
    path.write_text(text.replace("  adapter: hci0", "  adaptr: hci0"))
    result = cli("device", "list", "--config", path)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 3, result.err
    assert [k for k in ("http.port", "ble.mode", "ble.adaptr") if any(k in one for one in lines)] == [
        "http.port",
        "ble.mode",
        "ble.adaptr",
    ]


def test_a_billion_laughs_file_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    laughs = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    laughs += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path.write_text("\n".join(laughs) + "\n")
    with pytest.raises(ConfigError, match="aliases"):
        load_config(path)
    path.write_text("store_id: s1\n" + "# padding\n" * 200_000)  # over 1 MiB
    with pytest.raises(ConfigError, match="larger than 1024 KiB"):
        load_config(path)


def test_an_unquoted_off_is_the_mode_off(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(_good(tmp_path).replace("mode: passive", "mode: off"))
    assert load_config(path).ble.mode == "off"


def test_missing_required_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("store_id: s1\n")
    with pytest.raises(ConfigError, match=r"agent.yaml:1: http: required key is missing"):
        load_config(path)


def test_console_script_never_prints_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("store_id: s1\nhttp: {port: nope}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "edge_agent", "--config", str(path), "device", "list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{path}:2: http.port:" in proc.stderr


def test_rotating_the_staff_token_keeps_every_other_secret(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "agent.yaml"
    assert cli("init", "--config", path, "--data-dir", tmp_path / "var").code == 0
    before = load_config(path)
    result = cli("init", "--config", path, "--rotate-staff-token")
    assert result.code == 0, result.err
    after = load_config(path)
    assert after.http.staff_token != before.http.staff_token and after.http.staff_token in result.out
    assert (after.privacy.salt, after.checkin.key) == (before.privacy.salt, before.checkin.key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
