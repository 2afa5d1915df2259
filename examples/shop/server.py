"""The shop example's server: the generated ShopServer (``shop_sdk``, from shop.wsmq.yaml) on a
real broker, serving the page (``web/index.html`` + the bundled ``web/shop.js``).

``python examples/shop/server.py [--port 8081]`` prints ``shop: listening on http://HOST:PORT/``
once ready. Placing an order publishes ``orders.updated``, asks the ordering page
``ui.confirm`` and publishes the confirmed (or cancelled) order; more than the stock raises
``OutOfStock``. Chat messages from pages are kept in ``ShopApp.chat``.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from example_server import pages, run  # noqa: E402
from shop_sdk import (  # noqa: E402
    ChatMessageEvent,
    Order,
    OrdersCreateRequest,
    OutOfStock,
    ShopServer,
    UiConfirmRequest,
)
from websocketmq import Broker, WsmqError  # noqa: E402
from websocketmq.sdk import Context  # noqa: E402

__all__ = ["PAGES", "ShopApp", "install", "main"]

PAGES = pages(HERE)


class ShopApp:
    """The shop's state and handlers, installed on a broker."""

    def __init__(self, broker: Broker, stock: int = 10) -> None:
        self.api = ShopServer(broker)
        self.stock = stock
        self.orders: dict[str, Order] = {}
        self.chat: list[tuple[str, ChatMessageEvent]] = []
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self.api.orders_create(self.create)
        self.api.subscribe_chat_message(self.on_chat)

    def create(self, body: OrdersCreateRequest, ctx: Context) -> Order:
        """``orders.create``: take the stock, answer the order, confirm it in the background."""
        if body.qty > self.stock:
            raise OutOfStock(f"only {self.stock} left of {body.sku}", {"left": self.stock})
        self.stock -= body.qty
        order = Order(id=f"o{next(self._ids)}", sku=body.sku, qty=body.qty, status="placed")
        self.orders[order.id] = order
        if ctx.client_id is not None:
            task = asyncio.get_running_loop().create_task(self._confirm(order, ctx.client_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return order

    async def _confirm(self, order: Order, client_id: str) -> None:
        await self.api.publish_orders_updated(order)
        question = UiConfirmRequest(orderId=order.id, question=f"Ship {order.qty} x {order.sku}?")
        try:
            answer = await self.api.ui_confirm(client_id, question, timeout=10)
            status = "confirmed" if answer.confirmed else "cancelled"
        except WsmqError:
            status = "cancelled"
        done = Order(id=order.id, sku=order.sku, qty=order.qty, status=status)
        self.orders[order.id] = done
        await self.api.publish_orders_updated(done)

    def on_chat(self, body: ChatMessageEvent, ctx: Context) -> None:
        """``chat.{room}.message`` from a page."""
        self.chat.append((ctx.params["room"], body))
        print(f"shop: chat {ctx.params['room']} {body.author}: {body.text}", flush=True)


def install(broker: Broker) -> None:
    """Put the shop on ``broker`` (no background task)."""
    ShopApp(broker)


def main() -> None:
    """``python examples/shop/server.py [--host H] [--port P]``."""
    run("shop", install, PAGES, 8081)


if __name__ == "__main__":
    main()
