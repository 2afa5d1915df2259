"""``wsmq asyncapi CATALOGUE [-o FILE] [--server URL]``: the catalogue as an AsyncAPI 3.0.0 document
(spec/catalogue.md §8).

Why AsyncAPI: it is the standard description of message-driven APIs, so a catalogue can go into
AsyncAPI Studio, documentation generators and API portals unchanged. The document describes the
**client application** (the browser page or service that connects to the broker): a ``send``
operation is something a client sends, a ``receive`` operation something it gets.

The mapping, one rule each, so the document is a pure function of the catalogue:

- one channel per topic template (key: its camelCase name, §6.1), address = the template, its
  ``{name}`` tokens channel parameters;
- one operation per direction, named like the generated TypeScript member: ``ordersCreate``
  (client→server request: ``send`` with a ``reply``), ``handleUiConfirm`` (server→client request:
  ``receive`` with a ``reply``), ``publishX`` (``send``) / ``subscribeX`` (``receive``) for events,
  both for ``from: any``;
- a reply travels on the same connection with the request's ``correlationID`` as its topic
  (protocol §4.3), hence ``reply.address`` = ``$message.header#/correlationID`` on a reply channel
  without an address (key ``<name>_reply``: ``_`` never occurs in a camelCase name); its messages
  are the response and the error envelope (declared codes under ``x-wsmq-errors``);
- message payloads are the catalogue's schemas (``#/types/X`` becomes ``#/components/schemas/X``;
  the catalogue's subset of draft 2020-12, spec/catalogue.md §5, means the same in AsyncAPI's
  schema format); message headers are the wsmq envelope's ``header`` (protocol §3.2, from
  ``spec/schema/envelope.schema.json``, under ``wsmq.*`` names that no catalogue type can take);
- one ``ws`` server, with a channel binding that names the ``wsmq.v1`` subprotocol.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from .cli import load_or_report
from .loader import SCHEMA_DIR, STANDARD_CODES
from .model import Catalogue, Operation

__all__ = ["DEFAULT_SERVER", "main", "render_asyncapi"]

DEFAULT_SERVER = "ws://localhost:8080/ws"
"""The reference broker's default URL (``wsmq serve``); ``--server`` names the real one."""

_HEADERS = {
    "event": "EventHeader",
    "request": "RequestHeader",
    "response": "ResponseHeader",
    "error": "ErrorHeader",
}
_CORRELATION = {"location": "$message.header#/correlationID"}


def _local(node: Any, prefix: str, source: str) -> Any:
    """A copy of ``node`` with every ``$ref`` to ``source`` (``#/types/`` or ``#/$defs/``)
    pointing at ``#/components/schemas/<prefix><name>``."""
    if isinstance(node, dict):
        out = {k: _local(v, prefix, source) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(source):
            out["$ref"] = "#/components/schemas/" + prefix + ref[len(source) :]
        return out
    if isinstance(node, list):
        return [_local(v, prefix, source) for v in node]
    return node


def _envelope_schemas() -> dict[str, Any]:
    """The envelope's header and error-body schemas, and every ``$defs`` entry they use."""
    defs: dict[str, Any] = json.loads(
        (SCHEMA_DIR / "envelope.schema.json").read_text(encoding="utf-8")
    )["$defs"]
    wanted = [*_HEADERS.values(), "ErrorBody"]
    seen: list[str] = []
    while wanted:
        name = wanted.pop(0)
        if name in seen:
            continue
        seen.append(name)
        text = json.dumps(defs[name])
        wanted += [n for n in defs if f'"#/$defs/{n}"' in text and n not in seen]
    return {"wsmq." + n: _local(defs[n], "wsmq.", "#/$defs/") for n in sorted(seen)}


def _schema_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _server(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise ValueError(f"--server {url!r}: expected ws://HOST[:PORT]/PATH or wss://…")
    return {
        "host": parts.netloc,
        "protocol": parts.scheme,
        "pathname": parts.path or "/",
        "description": "A wsmq/1 broker serving this application (WebSocket subprotocol "
        "`wsmq.v1`; every channel shares the one connection).",
    }


def _message(
    cat: Catalogue, op: Operation, kind: str, payload_type: str | None, payload: dict[str, Any]
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": f"{op.camel}.{kind}",
        "title": f"{op.topic} {kind}",
        "contentType": "application/json",
        "headers": _schema_ref("wsmq." + _HEADERS[kind]),
        "payload": _schema_ref(payload_type) if payload_type else payload,
    }
    if kind != "event":
        message["correlationId"] = dict(_CORRELATION)
    resolved = cat.resolve(payload) if payload_type else payload
    examples = resolved.get("examples") if kind in ("request", "event") else None
    if examples:
        message["examples"] = [{"payload": ex} for ex in examples]
    return message


def _reply_error(op: Operation) -> dict[str, Any]:
    declared = ", ".join(op.errors) if op.errors else "none"
    message: dict[str, Any] = {
        "name": f"{op.camel}.error",
        "title": f"{op.topic} error",
        "summary": f"The request failed: a declared code ({declared}) or a standard code of "
        "protocol §11.2.",
        "contentType": "application/json",
        "headers": _schema_ref("wsmq.ErrorHeader"),
        "payload": _schema_ref("wsmq.ErrorBody"),
        "correlationId": dict(_CORRELATION),
    }
    if op.errors:
        message["x-wsmq-errors"] = list(op.errors)
    return message


def _operation(op: Operation, action: str, messages: list[str], reply: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{op.camel}"},
        "summary": f"{'request' if reply else 'event'} `{op.topic}` from the "
        f"{'client' if action == 'send' else 'server'}",
    }
    if op.description:
        out["description"] = op.description
    out["messages"] = [{"$ref": f"#/channels/{op.camel}/messages/{m}"} for m in messages]
    if reply:
        out["reply"] = {
            "address": {
                "location": "$message.header#/correlationID",
                "description": "An answer's topic is the request's correlationID (protocol §4.3).",
            },
            "channel": {"$ref": f"#/channels/{op.camel}_reply"},
            "messages": [
                {"$ref": f"#/channels/{op.camel}_reply/messages/response"},
                {"$ref": f"#/channels/{op.camel}_reply/messages/error"},
            ],
        }
    if op.deprecated:
        out["x-deprecated"] = True
    return out


def render_asyncapi(cat: Catalogue, server: str = DEFAULT_SERVER) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of ``cat`` as data (key order is the output order)."""
    schemas: dict[str, Any] = {n: _local(s, "", "#/types/") for n, s in cat.types.items()}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for op in cat.operations:
        schemas.setdefault(op.body_type, _local(op.body, "", "#/types/"))
        body_ref = op.body_type
        channel: dict[str, Any] = {"address": op.topic, "title": op.topic}
        if op.description:
            channel["description"] = op.description
        if op.params:
            channel["parameters"] = {
                p: {"description": op.param_descriptions.get(p, f"one topic token: the {p}")}
                for p in op.params
            }
        kind = op.kind
        messages[f"{op.camel}.{kind}"] = _message(cat, op, kind, body_ref, op.body)
        channel["messages"] = {kind: {"$ref": f"#/components/messages/{op.camel}.{kind}"}}
        channel["bindings"] = {"$ref": "#/components/channelBindings/wsmq"}
        channels[op.camel] = channel
        if kind == "request":
            assert op.response is not None and op.response_type is not None
            schemas.setdefault(op.response_type, _local(op.response, "", "#/types/"))
            messages[f"{op.camel}.response"] = _message(
                cat, op, "response", op.response_type, op.response
            )
            messages[f"{op.camel}.error"] = _reply_error(op)
            channels[f"{op.camel}_reply"] = {
                "address": None,
                "title": f"answers to {op.topic}",
                "description": "Answers come back on the requester's connection, matched by "
                "correlationID (protocol §8).",
                "messages": {
                    "response": {"$ref": f"#/components/messages/{op.camel}.response"},
                    "error": {"$ref": f"#/components/messages/{op.camel}.error"},
                },
            }
            if op.from_client:
                operations[op.camel] = _operation(op, "send", ["request"], True)
            else:
                name = "handle" + op.pascal
                operations[name] = _operation(op, "receive", ["request"], True)
            continue
        if op.from_client:
            operations["publish" + op.pascal] = _operation(op, "send", ["event"], False)
        if op.from_server:
            operations["subscribe" + op.pascal] = _operation(op, "receive", ["event"], False)
    schemas.update(_envelope_schemas())
    info: dict[str, Any] = {"title": cat.title, "version": cat.version}
    if cat.description:
        info["description"] = cat.description
    info["x-wsmq-catalogue"] = {"name": cat.name, "file": cat.file_name, "format": "1"}
    return {
        "asyncapi": "3.0.0",
        "info": info,
        "defaultContentType": "application/json",
        "servers": {"wsmq": _server(server)},
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "channelBindings": {
                "wsmq": {
                    "ws": {
                        "method": "GET",
                        "headers": {
                            "type": "object",
                            "properties": {
                                "Sec-WebSocket-Protocol": {"type": "string", "const": "wsmq.v1"}
                            },
                        },
                        "bindingVersion": "0.1.0",
                    }
                }
            },
            "x-wsmq-standard-errors": sorted(STANDARD_CODES),
        },
    }


def dump(document: dict[str, Any], json_output: bool) -> str:
    """YAML (the usual AsyncAPI form) or JSON text of ``document``; deterministic."""
    if json_output:
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    text: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for a bad catalogue or option)."""
    parser = argparse.ArgumentParser(
        prog="wsmq asyncapi",
        description="Write a catalogue as an AsyncAPI 3.0.0 document (spec/catalogue.md §8).",
    )
    parser.add_argument("catalogue", type=Path, help="the catalogue (YAML, or JSON if *.json)")
    parser.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write here (*.json: JSON; else YAML)"
    )
    parser.add_argument(
        "--server", default=DEFAULT_SERVER, metavar="URL", help=f"default {DEFAULT_SERVER}"
    )
    args = parser.parse_args(argv)
    cat = load_or_report("wsmq asyncapi", args.catalogue)
    if cat is None:
        return 2
    try:
        document = render_asyncapi(cat, args.server)
    except ValueError as exc:
        print(f"wsmq asyncapi: {exc}", file=sys.stderr)
        return 2
    out: Path | None = args.output
    text = dump(document, json_output=out is not None and out.suffix == ".json")
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wsmq asyncapi: wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
