"""Log output (websocketmq.logs, docs/operations.md "Logs"): JSON lines that parse, secrets
redacted in them, and repeated warnings bounded.

The JSON test runs the real ``wsmq serve --log-format json`` and reads its stderr: every line
must be one JSON object, and the credential a client put in its URL must not appear."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from websocketmq import connect
from websocketmq.logs import JsonFormatter, RepeatFilter
from websocketmq.testing import spawn_broker

__all__: list[str] = []


def _record(
    msg: str, *args: object, level: int = logging.WARNING, **extra: object
) -> logging.LogRecord:
    record = logging.LogRecord("websocketmq.test", level, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_repeat_filter_bounds_a_call_site_and_reports_what_it_dropped() -> None:
    now = [0.0]
    rf = RepeatFilter(burst=3, interval=10.0, clock=lambda: now[0])
    passed = [rf.filter(_record("event on %r not sent", f"t.{i}")) for i in range(1000)]
    assert passed.count(True) == 3  # one call site, whatever the topic
    assert rf.filter(_record("another site %s", 1))  # other sites are not affected
    assert rf.filter(_record("debug %s", 1, level=logging.DEBUG))  # only WARNING and above
    now[0] = 10.5
    record = _record("event on %r not sent", "t.x")
    assert rf.filter(record)
    assert record.__dict__["suppressed"] == 997
    assert record.getMessage() == "event on 't.x' not sent (997 similar suppressed)"


def test_json_formatter_fields_and_redaction() -> None:
    line = JsonFormatter().format(
        _record(
            "GET /ws?token=s3cret failed for %s",
            "k1",
            client_id="k1",
            topic="orders.new",
            correlation_id="c-9",
            code="FORBIDDEN",
        )
    )
    obj = json.loads(line)
    assert obj["level"] == "WARNING" and obj["logger"] == "websocketmq.test"
    assert (obj["client_id"], obj["topic"], obj["correlation_id"], obj["code"]) == (
        "k1",
        "orders.new",
        "c-9",
        "FORBIDDEN",
    )
    assert "s3cret" not in line and obj["message"].startswith("GET /ws?")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", obj["ts"])


async def test_wsmq_serve_json_logs_parse_and_hide_the_url_token(tmp_path: Path) -> None:
    log = tmp_path / "stderr.log"
    args = ("--demo", "--log-format", "json", "--log-level", "DEBUG")
    async with (
        spawn_broker(*args, stderr=log) as spawned,
        await connect(spawned.url + "?token=hunter2-secret") as client,
    ):
        assert await client.request("example.echo", {"x": 1}) == {"x": 1}
        client_id = client.client_id
    err = log.read_text()
    lines = [x for x in err.splitlines() if x.strip()]
    objects = [json.loads(x) for x in lines]  # every line is one JSON object
    assert all({"ts", "level", "logger", "message"} <= o.keys() for o in objects)
    assert "hunter2-secret" not in err
    registered = [o for o in objects if o["message"].startswith("client registered")]
    assert registered and registered[0]["client_id"] == client_id  # the event's fields
