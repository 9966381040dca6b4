"""`edge-agent relay`: the chain's reference relay for friends elsewhere (SPEC §16)."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from ..config.agent import _check_filter, _check_mqtt_url, _check_template
from ..relay.server import Relay, RelayConfig, serve


def _valid(check: object, value: str, what: str) -> str:
    try:
        return check(value)  # type: ignore[operator,no-any-return]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=what) from None


def relay(
    broker: Annotated[str, typer.Option("--broker", help="The chain's MQTT broker (mqtt:// or mqtts:// URL).")],
    host: Annotated[str, typer.Option("--host", help="Address the vote pages listen on.")] = "0.0.0.0",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port of the vote pages (0: any).")] = 8090,
    looks: Annotated[str, typer.Option("--looks", help="Look cards to serve (an MQTT filter).")] = (
        "retail/+/social/looks/+"
    ),
    votes: Annotated[str, typer.Option("--votes", help="Where votes go; {store_id} is the card's store.")] = (
        "retail/{store_id}/social/votes"
    ),
) -> None:
    """Serve the vote page for the looks stores share and publish the votes back, signed.

    Stateless apart from the looks it holds until they expire (the cards are retained on the broker).
    """
    config = RelayConfig(
        _valid(_check_mqtt_url, broker, "--broker"), host, port,
        _valid(_check_filter, looks, "--looks"), _valid(_check_template, votes, "--votes"),
    )  # fmt: skip
    asyncio.run(_main(Relay(config)))


async def _main(relay: Relay) -> None:
    stop, ready = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(serve(relay, stop, ready))
    await asyncio.wait([task, asyncio.create_task(ready.wait())], return_when=asyncio.FIRST_COMPLETED)
    if ready.is_set():
        typer.echo(f"relay: vote pages on {relay.url}, looks from {relay.config.broker}", err=True)
    await task
