"""``wsmq asyncapi``: a catalogue as an AsyncAPI 3.0.0 document (spec/catalogue.md §8), validated
by the official ``@asyncapi/parser`` (``typescript/scripts/asyncapi-validate.mjs``, offline).

The node script prints what the parser understood (operations, channels, payloads, replies), so
these tests check the parsed model against the catalogue, not only that nothing was reported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from codegen.catalogue import load_catalogue
from codegen.catalogue.asyncapi import render_asyncapi

__all__: list[str] = []

ROOT = Path(__file__).resolve().parent.parent
TS = ROOT / "typescript"
VALIDATE = TS / "scripts" / "asyncapi-validate.mjs"
KITCHEN = ROOT / "tests" / "catalogue" / "kitchen.wsmq.yaml"
SHOP = ROOT / "examples" / "shop" / "shop.wsmq.yaml"
NODE = shutil.which("node")


def _need_parser() -> str:
    if NODE is None or not (TS / "node_modules" / "@asyncapi" / "parser").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail("node and @asyncapi/parser are required in CI (make node)")
        pytest.skip("needs node and `make node` (typescript/node_modules/@asyncapi/parser)")
    return NODE


def _export(catalogue: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "websocketmq", "asyncapi", str(catalogue), "-o", str(out), *extra],
        cwd=out.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _validate(*files: Path) -> tuple[int, list[dict[str, Any]]]:
    node = _need_parser()
    proc = subprocess.run(
        [node, str(VALIDATE), *map(str, files)],
        cwd=TS,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.stdout, proc.stderr
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()]


def _strip(node: Any) -> Any:
    """The parser's view of a schema without the ids it adds."""
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k != "x-parser-schema-id"}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _serious(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in summary["problems"] if p["severity"] in ("error", "warning")]


def test_shop_document_validates_and_says_what_the_catalogue_says(tmp_path: Path) -> None:
    out = tmp_path / "shop.asyncapi.yaml"
    proc = _export(SHOP, out, "--server", "wss://shop.example:8443/ws")
    assert proc.returncode == 0, proc.stderr
    code, (doc,) = _validate(out)
    assert code == 0 and doc["valid"], doc["problems"]
    assert _serious(doc) == []
    assert doc["version"] == "3.0.0"
    assert doc["title"] == "Shop"
    assert doc["servers"] == [
        {"id": "wsmq", "url": "wss://shop.example:8443/ws", "protocol": "wss"}
    ]
    ops = {o["id"]: o for o in doc["operations"]}
    assert {k: (o["action"], o["channel"]) for k, o in ops.items()} == {
        "ordersCreate": ("send", "orders.create"),
        "subscribeOrdersUpdated": ("receive", "orders.updated"),
        "handleUiConfirm": ("receive", "ui.confirm"),
        "publishChatMessage": ("send", "chat.{room}.message"),
    }
    create = ops["ordersCreate"]
    cat = yaml.safe_load(SHOP.read_text(encoding="utf-8"))
    (request,) = create["messages"]
    assert _strip(request["payload"]) == cat["topics"]["orders.create"]["request"]["body"]
    assert request["correlation"] == "$message.header#/correlationID"
    assert "correlationID" in request["headersRequired"]
    assert create["reply"] == {
        "address": "$message.header#/correlationID",
        "messages": ["ordersCreate.response", "ordersCreate.error"],
    }
    (event,) = ops["subscribeOrdersUpdated"]["messages"]
    assert _strip(event["payload"]) == cat["types"]["Order"]  # the shared type, $ref resolved
    assert ops["subscribeOrdersUpdated"]["reply"] is None
    assert ops["handleUiConfirm"]["reply"]["messages"] == ["uiConfirm.response", "uiConfirm.error"]
    chans = {c["id"]: c for c in doc["channels"]}
    assert chans["chatMessage"]["parameters"] == ["room"]
    assert chans["ordersCreate_reply"]["address"] is None


def test_kitchen_document_validates_with_every_catalogue_feature(tmp_path: Path) -> None:
    yaml_out, json_out = tmp_path / "kitchen.yaml", tmp_path / "kitchen.json"
    assert _export(KITCHEN, yaml_out).returncode == 0
    assert _export(KITCHEN, json_out).returncode == 0
    assert json.loads(json_out.read_text(encoding="utf-8")) == yaml.safe_load(
        yaml_out.read_text(encoding="utf-8")
    )
    code, docs = _validate(yaml_out, json_out)
    assert code == 0, [d["problems"] for d in docs]
    doc = docs[0]
    assert _serious(doc) == []
    actions = {o["id"]: o["action"] for o in doc["operations"]}
    assert actions == {
        "basketCheckOut": "send",
        "roomsUsersKick": "send",
        "handleDeviceAsk": "receive",
        "publishFeedPost": "send",  # from: any is both
        "subscribeFeedPost": "receive",
        "publishLegacyPing": "send",
        "subscribeStatsTick": "receive",
    }
    chans = {c["address"]: c for c in doc["channels"]}
    assert chans["rooms.{room}.users.{user}.kick"]["parameters"] == ["room", "user"]
    raw = yaml.safe_load(yaml_out.read_text(encoding="utf-8"))
    assert raw["operations"]["handleDeviceAsk"]["x-deprecated"] is True
    assert "x-deprecated" not in raw["operations"]["basketCheckOut"]
    errors = raw["components"]["messages"]["basketCheckOut.error"]
    assert errors["x-wsmq-errors"] == ["EMPTY_BASKET", "PAYMENT_DECLINED"]
    feed = raw["components"]["messages"]["feedPost.event"]
    assert feed["examples"] == [{"payload": {"text": "hello"}}]
    assert raw["components"]["schemas"]["Basket"]["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/Item"
    }


def test_the_validator_rejects_a_broken_document(tmp_path: Path) -> None:
    """The check can fail: a reply message that its reply channel does not carry, and an
    operation on a channel that does not exist, are errors for @asyncapi/parser."""
    doc = render_asyncapi(load_catalogue(SHOP))
    doc["operations"]["ordersCreate"]["reply"]["messages"] = [
        {"$ref": "#/channels/ordersUpdated/messages/event"}
    ]
    doc["operations"]["subscribeOrdersUpdated"]["channel"] = {"$ref": "#/channels/nowhere"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    code, (summary,) = _validate(bad)
    assert code == 1
    assert any(p["severity"] == "error" for p in summary["problems"]), summary["problems"]


def test_rendering_is_deterministic_and_names_cannot_collide_with_envelope_schemas() -> None:
    one = render_asyncapi(load_catalogue(KITCHEN))
    assert one == render_asyncapi(load_catalogue(KITCHEN))
    schemas = one["components"]["schemas"]
    wsmq = sorted(n for n in schemas if n.startswith("wsmq."))
    assert {"wsmq.RequestHeader", "wsmq.ErrorBody", "wsmq.ErrorCode"} <= set(wsmq)
    refs = json.dumps(one)
    assert "#/$defs/" not in refs and "#/types/" not in refs


def test_bad_catalogue_and_bad_server_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wsmq.yaml"
    bad.write_text('wsmq: "1"\nname: x\nversion: "1"\ntopics: {_x: {event: {}}}\n', "utf-8")
    proc = _export(bad, tmp_path / "out.yaml")
    assert proc.returncode == 2
    assert "bad.wsmq.yaml: /topics/_x" in proc.stderr
    proc = _export(SHOP, tmp_path / "out.yaml", "--server", "http://x")
    assert proc.returncode == 2
    assert "expected ws://" in proc.stderr
    assert not (tmp_path / "out.yaml").exists()
