"""``wsmq serve --loop uvloop`` and :mod:`websocketmq.loops` (docs/operations.md, "Event loop"):
the broker really runs on uvloop when asked, and a missing uvloop is one line naming the extra."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from websocketmq.client import connect
from websocketmq.loops import LoopUnavailable, loop_factory, run
from websocketmq.testing import spawn_broker


def _need_uvloop() -> None:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("uvloop is not installed: pip install 'websocketmq[uvloop]'")


def test_run_starts_the_named_loop() -> None:
    _need_uvloop()

    async def which() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run(which(), "uvloop").startswith("uvloop")
    assert run(which(), "asyncio").startswith("asyncio")
    with pytest.raises(ValueError, match="unknown event loop 'trio'"):
        loop_factory("trio")


async def test_wsmq_serve_on_uvloop_answers_requests(tmp_path: Path) -> None:
    _need_uvloop()
    log = tmp_path / "stderr.log"
    async with spawn_broker("--demo", "--loop", "uvloop", stderr=log) as spawned:
        async with await connect(spawned.url) as client:
            for i in range(20):
                assert await client.request("example.echo", {"i": i}) == {"i": i}
        spawned.process.terminate()
        async with asyncio.timeout(10):
            code = await spawned.process.wait()
    err = log.read_text()
    assert code == 0, err
    assert "event loop: uvloop" in err  # the server itself says which loop it ran on


async def test_missing_uvloop_is_one_line_naming_the_extra() -> None:
    script = (
        "import sys; sys.modules['uvloop'] = None\n"  # as if not installed
        "from websocketmq.cli import main\n"
        "sys.exit(main(['serve', '--port', '0', '--loop', 'uvloop']))\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(20):
        out, err = await proc.communicate()
    assert proc.returncode == 2 and out == b""
    lines = err.decode().strip().splitlines()
    assert lines == ["wsmq: --loop uvloop needs uvloop: pip install 'websocketmq[uvloop]'"]


def test_loop_factory_raises_loop_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if not installed; restored after
    with pytest.raises(LoopUnavailable, match=r"websocketmq\[uvloop\]"):
        loop_factory("uvloop")
