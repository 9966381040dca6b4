"""The HTTP API under hostile and careless input: a one-line 400, never a 500 or a traceback."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.config.agent import AgentConfig
from edge_agent.presence.checkin import make_token
from edge_agent.runtime import Agent
from edge_agent.testing.store import seeded_config
from edge_agent.testing.wait import wait_until


class Background:
    """An agent running in its own thread and event loop, for blocking HTTP clients."""

    def __init__(self, config: AgentConfig) -> None:
        self.agent = Agent(config, [])
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await self.agent.run(self._stop)

        asyncio.run(main())

    def __enter__(self) -> Background:
        self._thread.start()
        wait_until(lambda: self.agent.ready.is_set())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)

    @property
    def url(self) -> str:
        return self.agent.http_url or ""


class Traceback(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record.getMessage())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Background, AgentConfig, Traceback]]:
    config = seeded_config(tmp_path_factory.mktemp("hostile"))
    errors = Traceback()
    logging.getLogger().addHandler(errors)
    try:
        with Background(config) as background:
            yield background, config, errors
    finally:
        logging.getLogger().removeHandler(errors)


def call(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def staff(config: AgentConfig, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {config.http.staff_token}", "Content-Type": "application/json", **extra}


REPROS = [
    ("/api/checkin", b'{"token":' + b"[" * 5000 + b"]" * 5000 + b"}", 400),
    ("/api/checkin", b'{"token":1' + b"0" * 5000 + b"}", 400),
    ("/api/checkin", b'{"token":1e400}', 400),
    ("/api/checkin", b"\xff\xfe", 400),
    ("/api/checkin", b"[1, 2]", 400),
    ("/api/alerts/abc/ack", b'{"action":' + b"[" * 5000 + b"]" * 5000 + b"}", 400),
    ("/api/alerts/abc/ack", b'{"action":"ack","offer_id":1' + b"0" * 5000 + b"}", 400),
]


@pytest.mark.parametrize(("path", "body", "status"), REPROS)
def test_repros_answer_a_one_line_400(
    served: tuple[Background, AgentConfig, Traceback], path: str, body: bytes, status: int
) -> None:
    background, config, errors = served
    code, text, _ = call(background.url + path, "POST", body, staff(config))
    assert code == status, text
    assert set(json.loads(text)) == {"error"} and "\n" not in json.loads(text)["error"]
    assert errors.records == []


def test_query_and_header_garbage(served: tuple[Background, AgentConfig, Traceback]) -> None:
    background, config, errors = served
    assert call(background.url + "/api/alerts?limit=abc", headers=staff(config))[0] == 400
    assert call(background.url + "/api/alerts?limit=%C2%B2", headers=staff(config))[0] == 400
    assert call(background.url + "/api/alerts?limit=99999999999999999999", headers=staff(config))[0] == 400
    request = urllib.request.Request(
        background.url + "/api/alerts/stream", headers=staff(config, **{"Last-Event-ID": "²"})
    )
    with urllib.request.urlopen(request, timeout=10) as stream:
        assert stream.status == 200
        while not stream.readline().startswith(b"retry:"):  # the backlog, then the retry hint
            pass
    assert errors.records == []


def test_state_changes_need_json_from_the_same_origin(served: tuple[Background, AgentConfig, Traceback]) -> None:
    background, config, _ = served
    token = make_token(config.checkin.key, "c-ada", config.store_id, int(time.time()) + 60, "csrf")
    body = json.dumps({"token": token}).encode()
    form = staff(config, **{"Content-Type": "text/plain"})
    assert call(background.url + "/api/checkin", "POST", body, form)[0] == 415
    other = staff(config, Origin="http://127.0.0.1:1")
    assert call(background.url + "/api/checkin", "POST", body, other)[0] == 403
    assert call(background.url + "/api/alerts/x/ack", "POST", b'{"action":"ack"}', other)[0] == 403
    same = staff(config, Origin=background.url)
    assert call(background.url + "/api/checkin", "POST", body, same)[0] == 200


def test_sessions_are_not_the_token_and_logout_ends_them(served: tuple[Background, AgentConfig, Traceback]) -> None:
    background, config, _ = served
    form = f"token={config.http.staff_token}".encode()
    request = urllib.request.Request(background.url + "/login", data=form, method="POST")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(request, timeout=10)
    assert redirect.value.code == 303
    assert redirect.value.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in redirect.value.headers["Content-Security-Policy"]
    cookie = redirect.value.headers["Set-Cookie"].split(";")[0]
    assert config.http.staff_token not in cookie
    assert call(background.url + "/api/alerts", headers={"Cookie": cookie})[0] == 200
    with pytest.raises(urllib.error.HTTPError):
        opener.open(
            urllib.request.Request(background.url + "/logout", data=b"", headers={"Cookie": cookie}), timeout=10
        )
    assert call(background.url + "/api/alerts", headers={"Cookie": cookie})[0] == 401
    _, _, login_headers = call(background.url + "/")
    assert login_headers["X-Frame-Options"] == "DENY"


json_bodies = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
).map(lambda v: json.dumps(v).encode())
bodies = st.one_of(
    st.binary(max_size=500),
    json_bodies,
    st.fixed_dictionaries({}, optional={"token": st.text(max_size=80), "action": st.text(max_size=20)}).map(
        lambda d: json.dumps(d).encode()
    ),
    st.fixed_dictionaries(
        {"sale_id": st.text(max_size=20)},
        optional={
            "lines": st.lists(
                st.dictionaries(
                    st.sampled_from(["sku", "qty", "amount"]), st.integers() | st.text(max_size=5) | st.floats()
                ),
                max_size=3,
            ),
            "customer_ref": st.text(max_size=10) | st.none(),
        },
    ).map(lambda d: json.dumps(d).encode()),
    st.fixed_dictionaries(  # a friend's vote page: votes, "remember me" and "forget me"
        {},
        optional={
            "sku": st.text(max_size=5) | st.integers(),
            "value": st.sampled_from(["up", "down", "sideways"]) | st.none(),
            "key": st.text(alphabet="0123456789abcdefXYZ", max_size=130) | st.integers(),
        },
    ).map(lambda d: json.dumps(d).encode()),
)
paths = st.sampled_from(
    [
        "/api/checkin",
        "/api/consent",
        "/api/pos/sales",
        "/api/alerts/abc/ack",
        "/api/alerts",
        "/login",
        "/logout",
        "/api/status",
        "/v/guess/votes",
        "/v/guess/remember",
        "/v/guess/forget",
    ]
)
content_types = st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=paths, body=bodies, content_type=content_types, authorized=st.booleans())
def test_fuzzing_every_endpoint_never_yields_a_500(
    served: tuple[Background, AgentConfig, Traceback], path: str, body: bytes, content_type: str, authorized: bool
) -> None:
    background, config, errors = served
    headers = staff(config) if authorized else {}
    if content_type:
        headers["Content-Type"] = content_type
    logged = len(errors.records)
    code, _, _ = call(background.url + path, "POST", body, headers)
    assert code < 500, (path, body[:100])
    assert errors.records[logged:] == []
