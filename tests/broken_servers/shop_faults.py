"""The shop example (examples/shop) with one deliberate contract bug, for the contract tests.

Why: ``wsmq-conformance --catalogue`` must be shown to *find* a server that breaks its catalogue
(spec/catalogue.md §9), and the report must carry the minimal failing example. Each fault is
one realistic handler bug on top of the real ShopApp, so everything else stays correct:

- ``wrong-shape``: ``orders.create`` is served by a hand-written handler (not the generated
  one, which would turn a wrong answer into INTERNAL) that answers ``qty`` as a string when
  ``qty > 50``: the response breaks the ``Order`` schema for some inputs only.
- ``undeclared-error``: ``orders.create`` answers ``SOLD_OUT``, a code the catalogue does not
  declare, when ``qty > 50``.
- ``no-validation``: ``orders.create`` takes any body without checking it (no INVALID_BODY).
- ``bad-event``: ``orders.updated`` is published with a status the schema does not allow.

Run: ``python tests/broken_servers/shop_faults.py --fault NAME`` prints
``shop: listening on http://127.0.0.1:PORT/`` (WebSocket path ``/ws``) and runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop"
sys.path.insert(0, str(SHOP))

from server import ShopApp  # noqa: E402
from shop_sdk import Order, OrdersCreateRequest  # noqa: E402
from websocketmq import Broker, Message, WsmqError, serve  # noqa: E402
from websocketmq.sdk import load  # noqa: E402

__all__ = ["FAULTS", "main"]

FAULTS = {
    "wrong-shape": "orders.create answers qty as a string when qty > 50",
    "undeclared-error": "orders.create answers the undeclared code SOLD_OUT when qty > 50",
    "no-validation": "orders.create does not check its body",
    "bad-event": "orders.updated carries status 'shipped'",
}


def install(broker: Broker, fault: str) -> ShopApp:
    """The shop on ``broker``, with ``fault``'s handler in place of the generated one."""
    app = ShopApp(broker, stock=10_000)
    if fault == "bad-event":

        async def publish_bad(order: Order) -> None:
            await broker.publish("orders.updated", {**_plain(order), "status": "shipped"})

        app.api.publish_orders_updated = publish_bad  # type: ignore[method-assign]
        return app
    app.api.subscriptions.pop(0).unsubscribe()  # the generated orders.create handler

    def create(msg: Message, _client: str | None) -> Any:
        if fault == "no-validation":
            body = msg.body if isinstance(msg.body, dict) else {}
            return {"id": "o1", "sku": str(body.get("sku")), "qty": 1, "status": "placed"}
        req = load(msg.body, OrdersCreateRequest, msg.topic)
        if req.qty > 50 and fault == "undeclared-error":
            raise WsmqError("SOLD_OUT", "sold out")
        qty: Any = str(req.qty) if req.qty > 50 and fault == "wrong-shape" else req.qty
        return {"id": "o1", "sku": req.sku, "qty": qty, "status": "placed"}

    broker.subscribe("orders.create", create)
    return app


def _plain(order: Order) -> dict[str, Any]:
    return {"id": order.id, "sku": order.sku, "qty": order.qty, "status": order.status}


async def _run(port: int, fault: str) -> None:
    broker = Broker()
    install(broker, fault)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with serve(broker, "127.0.0.1", port, "/ws") as server:
        print(f"shop: listening on http://127.0.0.1:{server.port}/", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fault", choices=sorted(FAULTS), required=True)
    args = parser.parse_args()
    asyncio.run(_run(args.port, args.fault))


if __name__ == "__main__":
    main()
