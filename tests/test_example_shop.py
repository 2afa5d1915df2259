"""The shop example (examples/shop): its committed outputs are current and its server works with
the generated Python client over real sockets. The page itself runs in headless Chromium in
``examples/shop/shop.test.mjs`` (``make test-examples``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from test_examples import load_module as _module
from websocketmq import Broker, connect, serve

__all__: list[str] = []

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "examples" / "shop"


async def test_shop_server_with_the_generated_python_client() -> None:
    server_mod = _module("shop_server", SHOP / "server.py")
    from shop_sdk import Order, OrdersCreateRequest, OutOfStock, ShopClient, UiConfirmResponse

    broker = Broker()
    app = server_mod.ShopApp(broker, stock=5)
    async with serve(broker, port=0, pages=server_mod.PAGES) as server:
        async with connect(server.url) as client:
            api = ShopClient(client)
            updates: list[Order] = []
            done = asyncio.Event()

            def on_update(order: Order) -> None:
                updates.append(order)
                if order.status != "placed":
                    done.set()

            await api.subscribe_orders_updated(on_update)
            await api.handle_ui_confirm(lambda q: UiConfirmResponse(confirmed=True))
            order = await api.orders_create(OrdersCreateRequest(sku="ABC-123", qty=2))
            assert (order.id, order.status) == ("o1", "placed")
            await asyncio.wait_for(done.wait(), 10)
            assert [u.status for u in updates] == ["placed", "confirmed"]
            with pytest.raises(OutOfStock) as info:
                await api.orders_create(OrdersCreateRequest(sku="ABC-123", qty=4))
            assert info.value.details == {"left": 3}
            assert app.orders["o1"].status == "confirmed"
        # the broker serves the page and its bundle
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /shop.js HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        writer.close()
        assert head.startswith(b"HTTP/1.1 200") and b"text/javascript" in head
