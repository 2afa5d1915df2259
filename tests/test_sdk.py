"""Generated Python SDK against a real broker over real sockets (spec/catalogue.md §6-§7).

Uses the shop example's committed SDK (``examples/shop/shop_sdk``, kept in step by
``test_catalogue.py``); every body that breaks its schema must be refused with INVALID_BODY and
``{pointer, rule, topic}`` before any handler runs, and the connection keeps working.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from websocketmq import Broker, InvalidBody, WsmqError, connect, serve
from websocketmq.errors import error_from_wire
from websocketmq.sdk import Context, Endpoint, load

from codegen.catalogue import load_catalogue
from codegen.catalogue.loader import json_schema_of

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "shop"))

from shop_sdk import (  # noqa: E402
    ChatMessageEvent,
    Order,
    OrdersCreateRequest,
    OutOfStock,
    ShopClient,
    ShopServer,
    UiConfirmRequest,
    UiConfirmResponse,
)

__all__: list[str] = []

T = 10.0


class App:
    """A shop server on a real broker, recording what its handlers were called with."""

    def __init__(self, broker: Broker) -> None:
        self.api = ShopServer(broker)
        self.created: list[OrdersCreateRequest] = []
        self.chats: list[tuple[ChatMessageEvent, dict[str, str], str | None]] = []
        self.chat_seen = asyncio.Event()
        api = self.api

        @api.orders_create
        async def create(body: OrdersCreateRequest, ctx: Context) -> Order:
            self.created.append(body)
            assert ctx.client_id is not None
            if body.qty > 50:
                raise OutOfStock("only 50 left", {"left": 50})
            if body.qty == 42:  # a buggy handler: qty 0 breaks the response schema
                return Order(id="x", sku=body.sku, qty=0, status="placed")
            return Order(id="o1", sku=body.sku, qty=body.qty, status="placed")

        @api.subscribe_chat_message
        def chat(body: ChatMessageEvent, ctx: Context) -> None:
            self.chats.append((body, ctx.params, ctx.client_id))
            self.chat_seen.set()


@pytest.fixture
async def shop() -> AsyncIterator[tuple[App, str]]:
    broker = Broker()
    app = App(broker)
    async with serve(broker, port=0) as server:
        yield app, server.url


async def test_typed_request_round_trip_and_declared_error(shop: tuple[App, str]) -> None:
    app, url = shop
    async with connect(url) as client:
        api = ShopClient(client)
        order = await api.orders_create(OrdersCreateRequest(sku="ABC-123", qty=2), timeout=T)
        assert order == Order(id="o1", sku="ABC-123", qty=2, status="placed")
        with pytest.raises(OutOfStock) as info:
            await api.orders_create(OrdersCreateRequest(sku="ABC-123", qty=60), timeout=T)
        assert (info.value.code, info.value.details, info.value.remote) == (
            "OUT_OF_STOCK",
            {"left": 50},
            True,
        )
        assert isinstance(app.created[0], OrdersCreateRequest)


@pytest.mark.parametrize(
    ("body", "pointer", "rule"),
    [
        ({"sku": 5, "qty": 1}, "/sku", "type"),
        ({"qty": 1}, "", "required"),
        ({"sku": "ABC-123", "qty": 0}, "/qty", "minimum"),
        ({"sku": "ABC-123", "qty": 101}, "/qty", "maximum"),
        ({"sku": "abc", "qty": 1}, "/sku", "pattern"),
        ({"sku": "ABC-123\n", "qty": 1}, "/sku", "pattern"),
        ({"sku": "ABC-123", "qty": 1, "coupon": "X"}, "", "additionalProperties"),
        ({"sku": "ABC-123", "qty": True}, "/qty", "type"),
        ({"sku": "ABC-123", "qty": "1"}, "/qty", "type"),
        (None, "", "type"),
        ([1], "", "type"),
    ],
)
async def test_server_refuses_invalid_requests_before_the_handler(
    shop: tuple[App, str], body: Any, pointer: str, rule: str
) -> None:
    app, url = shop
    async with connect(url) as client:
        with pytest.raises(WsmqError) as info:
            await client.request("orders.create", body, T)  # untyped: straight to the wire
        assert info.value.code == "INVALID_BODY" and info.value.remote
        assert info.value.details == {"pointer": pointer, "rule": rule, "topic": "orders.create"}
        assert app.created == []
        # nothing else is disturbed: the same connection still works
        api = ShopClient(client)
        assert (await api.orders_create(OrdersCreateRequest(sku="ABC-123", qty=1))).qty == 1


async def test_client_checks_what_it_sends_locally(shop: tuple[App, str]) -> None:
    app, url = shop
    async with connect(url) as client:
        api = ShopClient(client)
        with pytest.raises(InvalidBody) as info:
            await api.orders_create({"sku": 5, "qty": 1})  # type: ignore[arg-type]
        assert not info.value.remote
        assert info.value.details == {"pointer": "/sku", "rule": "type", "topic": "orders.create"}
        with pytest.raises(InvalidBody):
            await api.publish_chat_message("lobby", ChatMessageEvent(author="", text="x"))
    assert app.created == []


async def test_a_handler_answer_that_breaks_the_schema_is_internal(shop: tuple[App, str]) -> None:
    _, url = shop
    async with connect(url) as client:
        with pytest.raises(WsmqError) as info:
            await ShopClient(client).orders_create(OrdersCreateRequest(sku="ABC-123", qty=42))
        assert info.value.code == "INTERNAL"
        assert info.value.details["pointer"] == "/qty"


async def test_client_refuses_an_invalid_response(shop: tuple[App, str]) -> None:
    """A server that is not generated answers whatever it likes: the client checks it."""
    app, url = shop
    for sub in app.api.subscriptions:
        sub.unsubscribe()
    broker = app.api.broker
    broker.subscribe("orders.create", lambda msg, _cid: {"id": "o", "sku": "ABC-123", "qty": "2"})
    async with connect(url) as client:
        with pytest.raises(InvalidBody) as info:
            await ShopClient(client).orders_create(OrdersCreateRequest(sku="ABC-123", qty=2))
        assert not info.value.remote
        assert info.value.details["pointer"] == "/qty"
        assert "response of 'orders.create'" in info.value.message


async def test_events_both_ways_with_parameters(shop: tuple[App, str]) -> None:
    app, url = shop
    async with connect(url) as client:
        api = ShopClient(client)
        updates: list[Order] = []
        got = asyncio.Event()
        invalid: list[InvalidBody] = []
        api.on_invalid = invalid.append

        def on_update(order: Order) -> None:
            updates.append(order)
            got.set()

        await api.subscribe_orders_updated(on_update)
        await client.wait_connected(T)
        await app.api.broker.publish("orders.updated", {"id": "o1"})  # invalid: dropped
        await app.api.publish_orders_updated(
            Order(id="o1", sku="ABC-123", qty=2, status="confirmed")
        )
        await asyncio.wait_for(got.wait(), T)
        assert updates == [Order(id="o1", sku="ABC-123", qty=2, status="confirmed")]
        assert [e.details["rule"] for e in invalid] == ["required"]

        await api.publish_chat_message("lobby", ChatMessageEvent(author="ann", text="hi"))
        await asyncio.wait_for(app.chat_seen.wait(), T)
        body, params, source = app.chats[0]
        assert (body, params, source) == (
            ChatMessageEvent(author="ann", text="hi"),
            {"room": "lobby"},
            client.client_id,
        )
        with pytest.raises(WsmqError):
            await api.publish_chat_message("a.b", ChatMessageEvent(author="a", text="x"))


async def test_invalid_client_event_is_reported_to_its_sender_only(
    shop: tuple[App, str],
) -> None:
    app, url = shop
    async with connect(url) as client:
        await client.publish("chat.lobby.message", {"author": "ann"})
        await client.publish("chat.lobby.message", {"author": "ann", "text": "ok"})
        await asyncio.wait_for(app.chat_seen.wait(), T)
        assert [c[0].text for c in app.chats] == ["ok"]


async def test_server_to_client_request_typed_and_checked(shop: tuple[App, str]) -> None:
    app, url = shop
    async with connect(url) as client:
        api = ShopClient(client)
        asked: list[UiConfirmRequest] = []

        def confirm(body: UiConfirmRequest) -> UiConfirmResponse:
            asked.append(body)
            return UiConfirmResponse(confirmed=body.orderId == "o1")

        await api.handle_ui_confirm(confirm)
        assert client.client_id is not None
        reply = await app.api.ui_confirm(
            client.client_id, UiConfirmRequest(orderId="o1", question="ok?"), timeout=T
        )
        assert reply == UiConfirmResponse(confirmed=True)
        with pytest.raises(WsmqError) as info:
            await app.api.broker.request_to_client(
                client.client_id, "ui.confirm", {"orderId": 1, "question": "?"}, T
            )
        assert info.value.code == "INVALID_BODY"
        assert info.value.details == {"pointer": "/orderId", "rule": "type", "topic": "ui.confirm"}
        assert len(asked) == 1


def test_error_from_wire_rebuilds_invalid_body() -> None:
    err = error_from_wire({"error": {"code": "INVALID_BODY", "message": "m", "details": {}}})
    assert isinstance(err, InvalidBody) and err.remote


# Near-miss bodies for every schema keyword: the Struct check must agree with jsonschema on
# the verdict and on the keyword (spec/catalogue.md §7.2), so Python's boundary says what the
# catalogue says.
NEAR_MISSES: list[tuple[str, Any]] = [
    ("Item", {"sku": "a", "count": 1}),
    ("Item", {"sku": "", "count": 1}),
    ("Item", {"sku": "x" * 17, "count": 1}),
    ("Item", {"sku": "A", "count": 1}),
    ("Item", {"sku": "a", "count": 0}),
    ("Item", {"sku": "a", "count": 1.5}),
    ("Item", {"sku": "a", "count": 1, "price": 0}),
    ("Item", {"sku": "a", "count": 1, "price": 0.5}),
    ("Item", {"sku": "a", "count": 1, "tags": ["x"] * 6}),
    ("Item", {"sku": "a", "count": 1, "tags": [1]}),
    ("Item", {"sku": "a", "count": 1, "class": "c", "unknown": 1}),
    ("Basket", {"items": []}),
    ("Basket", {"items": [{"sku": "a"}]}),
    ("Basket", {"items": [{"sku": "a", "count": 2}], "note": None, "extra": {"k": [1]}}),
    ("Basket", {"items": [{"sku": "a", "count": 2}], "note": 1}),
    ("Colour", "red"),
    ("Colour", "pink"),
    ("Colour", 3),
    ("Score", 11),
    ("Score", -1),
    ("Score", 5),
    ("BasketCheckOutResponse", {"total": 1, "colour": "blue"}),
    ("BasketCheckOutResponse", {"total": 1, "x": 1}),
    ("StatsTickEvent", [1, 2, 30]),
]


@pytest.mark.parametrize(("type_name", "body"), NEAR_MISSES)
def test_struct_checks_agree_with_json_schema(type_name: str, body: Any) -> None:
    golden = ROOT / "tests" / "catalogue" / "golden"
    sys.path.insert(0, str(golden))
    try:
        import kitchen_sdk
    finally:
        sys.path.remove(str(golden))
    cat = load_catalogue(ROOT / "tests" / "catalogue" / "kitchen.wsmq.yaml")
    schema = next(n.schema for n in cat.named if n.name == type_name)
    validator = jsonschema.Draft202012Validator(json_schema_of(schema, cat.types))
    errors = list(validator.iter_errors(body))
    tp = getattr(kitchen_sdk, type_name)
    if not errors:
        load(body, tp, "t")
        return
    with pytest.raises(InvalidBody) as info:
        load(body, tp, "t")
    found = {
        (("/" + "/".join(map(str, e.absolute_path))) if e.absolute_path else "", e.validator)
        for e in errors
    }
    details = info.value.details
    assert (details["pointer"], details["rule"]) in found, (details, found)


def test_endpoint_parameters_must_be_single_tokens() -> None:
    ep: Endpoint[Any, None] = Endpoint("a.{x}.b", dict, params=("x",))
    assert ep.topic_for(("k",)) == "a.k.b"
    assert ep.pattern == "a.*.b"
    assert ep.params_of("a.k.b") == {"x": "k"}
    for bad in ("", "a.b", "*", ">", "a b", "\x00"):
        with pytest.raises(WsmqError) as info:
            ep.topic_for((bad,))
        assert info.value.code == "BAD_TOPIC"
