"""The chat and dashboard examples (examples/chat, examples/dashboard) over real sockets with the
generated Python clients, and what every example commits: SDKs current with its catalogue and a
page bundle current with its sources. The pages run in headless Chromium in
``examples/*/*.test.mjs`` (``make test-examples``)."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from websocketmq import Broker, connect, serve

from codegen.catalogue.cli import main as codegen_main

__all__ = ["load_module"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def load_module(name: str, path: Path) -> ModuleType:
    """Import an example's script (not a package) under ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["shop", "chat", "dashboard"])
def test_committed_sdks_are_current(name: str) -> None:
    here = EXAMPLES / name
    args = [str(here / f"{name}.wsmq.yaml"), "--python", str(here / f"{name}_sdk")]
    assert codegen_main([*args, "--typescript", str(here / "web" / "sdk"), "--check"]) == 0


def test_committed_page_bundles_are_current() -> None:
    build = load_module("examples_build", EXAMPLES / "build.py")
    if not build.ESBUILD.exists() or shutil.which("node") is None:
        pytest.skip("needs `make node` (esbuild in typescript/node_modules)")
    assert {p.name for p in build.EXAMPLES} >= {"shop", "chat", "dashboard"}
    assert build.main(["--check"]) == 0, "run: make bundle"


async def _until(check: Any, what: str) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"timed out waiting for {what}")


async def test_chat_presence_follows_registration_and_names() -> None:
    server_mod = load_module("chat_server", EXAMPLES / "chat" / "server.py")
    from chat_sdk import ChatClient, ChatMessageEvent, NameTaken, Presence, PresenceJoinRequest

    broker = Broker()
    app = server_mod.ChatApp(broker)
    async with serve(broker, port=0, pages=server_mod.PAGES) as server:
        seen: list[Presence] = []
        lobby: list[ChatMessageEvent] = []
        async with connect(server.url) as ann_client:
            ann = ChatClient(ann_client)
            await ann.subscribe_presence_changed(seen.append)
            await ann.subscribe_chat_message(lambda body, room: lobby.append(body), room="lobby")
            await _until(lambda: len(app.members) == 1, "ann's registration")
            async with connect(server.url) as bob_client:
                bob = ChatClient(bob_client)
                await _until(lambda: seen and len(seen[-1].members) == 2, "bob as a guest")
                assert [m.name for m in seen[-1].members] == ["guest", "guest"]
                await ann.presence_join(PresenceJoinRequest(name="ann"))
                with pytest.raises(NameTaken):
                    await bob.presence_join(PresenceJoinRequest(name="ann"))
                now = await bob.presence_join(PresenceJoinRequest(name="bob"))
                assert [m.name for m in now.members] == ["ann", "bob"]
                await bob.publish_chat_message("lobby", ChatMessageEvent(author="bob", text="hi"))
                await _until(lambda: any(m.text == "hi" for m in lobby), "bob's line")
                await _until(
                    lambda: ("lobby", ChatMessageEvent(author="bob", text="hi")) in app.heard,
                    "heard",
                )
            await _until(lambda: [m.name for m in seen[-1].members] == ["ann"], "bob's departure")
            await _until(lambda: any(m.text == "bob left" for m in lobby), "the announcement")


async def test_dashboard_confirms_on_the_asking_client_and_refuses_the_impossible() -> None:
    server_mod = load_module("dashboard_server", EXAMPLES / "dashboard" / "server.py")
    from dashboard_sdk import (
        ActionsLogEvent,
        ActionsRunRequest,
        DashboardClient,
        Metrics,
        NotPossible,
        UiConfirmRequest,
        UiConfirmResponse,
    )

    broker = Broker()
    app = server_mod.DashboardApp(broker, workers=1)
    async with serve(broker, port=0, pages=server_mod.PAGES) as server:
        pusher = asyncio.get_running_loop().create_task(app.push_forever())
        try:
            async with connect(server.url) as client:
                api = DashboardClient(client)
                samples: list[Metrics] = []
                log: list[ActionsLogEvent] = []
                asked: list[UiConfirmRequest] = []
                answers = iter([False, True])

                def confirm(ask: UiConfirmRequest) -> UiConfirmResponse:
                    asked.append(ask)
                    return UiConfirmResponse(confirmed=next(answers))

                await api.subscribe_metrics_tick(samples.append)
                await api.subscribe_actions_log(log.append)
                await api.handle_ui_confirm(confirm)
                await _until(lambda: len(samples) >= 2, "two samples")
                assert samples[1].seq == samples[0].seq + 1
                with pytest.raises(NotPossible):
                    await api.actions_run(ActionsRunRequest(action="remove-worker"))
                assert asked == []  # refused before asking anybody
                declined = await api.actions_run(ActionsRunRequest(action="add-worker"))
                assert (declined.done, declined.detail) == (False, "declined on the page")
                done = await api.actions_run(ActionsRunRequest(action="add-worker"))
                assert (done.done, done.detail) == (True, "2 workers")
                assert [a.question for a in asked] == ["Add a worker (1 → 2)?"] * 2
                await _until(lambda: samples[-1].workers == 2, "a sample with 2 workers")
                await _until(lambda: len(log) == 2, "two log entries")
                assert [e.outcome for e in log] == ["declined on the page", "2 workers"]
                assert {e.by for e in log} == {client.client_id}
        finally:
            pusher.cancel()
