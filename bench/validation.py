"""``python -m bench.validation [--quick]``: what checking bodies at the boundary costs per message.

spec/catalogue.md §7 checks every body that arrives with the generated msgspec Structs (Python)
and the schema interpreter of ``typescript/src/sdk.ts`` (TypeScript), never with a JSON Schema
library per message. This measures, for the shop example's ``orders.create`` body and ``Order``
response:

* ``load`` (arriving body → Struct, ``msgspec.convert(strict=True)``) and ``dump`` (Struct →
  checked JSON data) in Python, against ``jsonschema`` validating the same body;
* ``checkBody`` in node on the same bodies (bundled on the fly by esbuild);
* a closed-loop RPC over a real broker on 127.0.0.1: ``ShopClient.orders_create`` (checked both
  ways on both sides) against ``client.request`` to a plain handler — the end-to-end overhead.

Prints one JSON object; ``docs/catalogue.md`` records a run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["main", "measure"]

ROOT = Path(__file__).resolve().parent.parent
BODY = {"sku": "ABC-123", "qty": 2}
ORDER = {"id": "o1", "sku": "ABC-123", "qty": 2, "status": "placed"}


def _per_call_ns(fn: Callable[[], Any], seconds: float) -> float:
    n = 0
    batch = 1000
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            fn()
        n += batch
        now = time.perf_counter()
        if now >= deadline:
            return (now - start) / n * 1e9


def _python(seconds: float) -> dict[str, float]:
    import jsonschema
    from websocketmq.sdk import dump, load

    from codegen.catalogue import load_catalogue
    from codegen.catalogue.loader import json_schema_of

    sys.path.insert(0, str(ROOT / "examples" / "shop"))
    from shop_sdk import Order, OrdersCreateRequest

    cat = load_catalogue(ROOT / "examples" / "shop" / "shop.wsmq.yaml")
    schema = next(n.schema for n in cat.named if n.name == "OrdersCreateRequest")
    validator = jsonschema.Draft202012Validator(json_schema_of(schema, cat.types))
    order = Order(**ORDER)  # type: ignore[arg-type]
    return {
        "python_load_request_ns": _per_call_ns(
            lambda: load(BODY, OrdersCreateRequest, "orders.create"), seconds
        ),
        "python_load_response_ns": _per_call_ns(lambda: load(ORDER, Order, "x"), seconds),
        "python_dump_response_ns": _per_call_ns(lambda: dump(order, Order, "x"), seconds),
        "python_jsonschema_request_ns": _per_call_ns(lambda: validator.validate(BODY), seconds),
    }


def _typescript(seconds: float) -> dict[str, float]:
    node = shutil.which("node")
    esbuild = ROOT / "typescript" / "node_modules" / "esbuild" / "bin" / "esbuild"
    if node is None or not esbuild.exists():
        return {}
    from codegen.catalogue import load_catalogue
    from codegen.catalogue.typescript import _strip

    cat = load_catalogue(ROOT / "examples" / "shop" / "shop.wsmq.yaml")
    schemas = {n.name: _strip(n.schema) for n in cat.named}
    with tempfile.TemporaryDirectory(prefix="wsmq-bench-") as tmp:
        bundle = Path(tmp) / "sdk.mjs"
        subprocess.run(
            [
                str(esbuild),
                str(ROOT / "typescript" / "src" / "sdk.ts"),
                "--bundle",
                "--format=esm",
                f"--outfile={bundle}",
                "--log-level=warning",
            ],
            check=True,
            timeout=60,
        )
        script = Path(tmp) / "bench.mjs"
        script.write_text(
            "import { checkBody } from './sdk.mjs';\n"
            "const [schemas, body, order, seconds] = JSON.parse(process.argv[2]);\n"
            "function perCall(fn) {\n"
            "  let n = 0; const start = process.hrtime.bigint();\n"
            "  const end = start + BigInt(Math.round(seconds * 1e9));\n"
            "  for (;;) { for (let i = 0; i < 1000; i++) fn(); n += 1000;\n"
            "    const now = process.hrtime.bigint();\n"
            "    if (now >= end) return Number(now - start) / n; }\n"
            "}\n"
            "const req = schemas.OrdersCreateRequest, res = schemas.Order;\n"
            "console.log(JSON.stringify({\n"
            "  ts_check_request_ns: perCall(() => checkBody(schemas, req, body)),\n"
            "  ts_check_response_ns: perCall(() => checkBody(schemas, res, order)),\n"
            "}));\n",
            encoding="utf-8",
        )
        out = subprocess.run(
            [node, str(script), json.dumps([schemas, BODY, ORDER, seconds])],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
    result: dict[str, float] = json.loads(out.stdout)
    return result


async def _rpc(count: int) -> dict[str, float]:
    from websocketmq import Broker, BrokerOptions, connect, serve

    sys.path.insert(0, str(ROOT / "examples" / "shop"))
    from shop_sdk import Order, OrdersCreateRequest, ShopClient, ShopServer

    options = BrokerOptions.default()
    options.message_rate = 0  # a closed loop far above the default 200/s per connection
    broker = Broker(options)
    broker.subscribe("plain.create", lambda msg, _cid: dict(ORDER))
    api = ShopServer(broker)

    @api.orders_create
    def create(body: OrdersCreateRequest, _ctx: Any) -> Order:
        return Order(id="o1", sku=body.sku, qty=body.qty, status="placed")

    results: dict[str, float] = {}
    async with serve(broker, port=0) as server, connect(server.url) as client:
        shop = ShopClient(client)
        body = OrdersCreateRequest(sku="ABC-123", qty=2)
        for _ in range(200):  # warm up both paths
            await client.request("plain.create", BODY)
            await shop.orders_create(body)
        for rep in range(3):  # interleaved, the best of three each
            start = time.perf_counter()
            for _ in range(count):
                await client.request("plain.create", BODY)
            plain = (time.perf_counter() - start) / count * 1e6
            start = time.perf_counter()
            for _ in range(count):
                await shop.orders_create(body)
            typed = (time.perf_counter() - start) / count * 1e6
            if rep == 0 or plain < results["rpc_plain_us"]:
                results["rpc_plain_us"] = plain
            if rep == 0 or typed < results["rpc_typed_us"]:
                results["rpc_typed_us"] = typed
    results["rpc_overhead_ratio"] = results["rpc_typed_us"] / results["rpc_plain_us"]
    return results


def measure(quick: bool = False) -> dict[str, float]:
    """Every figure, as a flat dict (ns per call; µs per RPC round trip)."""
    seconds = 0.1 if quick else 1.0
    out = _python(seconds)
    out.update(_typescript(seconds))
    out.update(asyncio.run(_rpc(200 if quick else 3000)))
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point: print the figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.validation", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    args = parser.parse_args(argv)
    print(json.dumps({k: round(v, 3) for k, v in measure(args.quick).items()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
