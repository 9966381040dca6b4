"""A till: publishes completed sales to a real broker (QoS 1), as a POS terminal would."""

from __future__ import annotations

import json
import time

from ..links.address import broker_address
from ..links.client import MqttClient, Options


class TillSimulator:
    """One till on `{topic_prefix}/pos/{device_id}/sales`."""

    def __init__(self, broker_url: str, topic_prefix: str, device_id: str = "till-1") -> None:
        self._host, self._port, _ = broker_address(broker_url)
        self.topic = f"{topic_prefix}/pos/{device_id}/sales"
        self.sold = 0

    async def sell(
        self,
        sale_id: str,
        lines: list[tuple[str, int, float]],
        customer_ref: str | None = None,
        offer_ids: tuple[str, ...] = (),
    ) -> dict[str, object]:
        sale = {
            "sale_id": sale_id,
            "ts": time.time(),
            "customer_ref": customer_ref,
            "lines": [{"sku": sku, "qty": qty, "amount": amount} for sku, qty, amount in lines],
            "offer_ids": list(offer_ids),
        }
        async with MqttClient(self._host, self._port, Options(f"sim-{self.topic}")) as client:
            await client.publish(self.topic, json.dumps(sale), qos=1)
        self.sold += 1
        return sale
