"""The chat example's server: the generated ChatServer (``chat_sdk``, from chat.wsmq.yaml) on a
real broker, serving the page (``web/index.html`` + the bundled ``web/chat.js``).

Presence comes from the broker's registration events (spec/protocol.md §6.5): a page appears as
``guest`` when its connection registers (``_internal.client.registered``), takes a name with
``presence.join``, and disappears when its connection ends (``_internal.client.deregistered``);
each change is published as ``presence.changed``. Rooms are topic parameters
(``chat.{room}.message``): the server announces joins and departures in ``chat.lobby.message``
and prints every line it hears (``chat: ROOM AUTHOR: TEXT``).

``python examples/chat/server.py [--port 8082]``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from chat_sdk import (  # noqa: E402
    ChatMessageEvent,
    ChatServer,
    Member,
    NameTaken,
    Presence,
    PresenceJoinRequest,
)
from example_server import pages, run  # noqa: E402
from websocketmq import Broker, Message  # noqa: E402
from websocketmq.sdk import Context  # noqa: E402

__all__ = ["PAGES", "ChatApp", "install", "main"]

PAGES = pages(HERE)
LOBBY = "lobby"


class ChatApp:
    """Who is online (from registration events) and the typed handlers, on one broker."""

    def __init__(self, broker: Broker) -> None:
        self.api = ChatServer(broker)
        self.members: dict[str, Member] = {}
        """Connected pages by client ID, in the order they registered."""
        self.heard: list[tuple[str, ChatMessageEvent]] = []
        self.api.presence_join(self.join)
        self.api.subscribe_chat_message(self.on_message)
        broker.subscribe("_internal.client.registered", self.on_registered)
        broker.subscribe("_internal.client.deregistered", self.on_deregistered)

    def presence(self) -> Presence:
        return Presence(members=list(self.members.values()))

    async def on_registered(self, msg: Message, _source: str | None) -> None:
        client_id = _client_of(msg.body)
        if client_id is not None and client_id not in self.members:
            self.members[client_id] = Member(clientId=client_id, name="guest")
            await self.api.publish_presence_changed(self.presence())

    async def on_deregistered(self, msg: Message, _source: str | None) -> None:
        client_id = _client_of(msg.body)
        gone = self.members.pop(client_id, None) if client_id is not None else None
        if gone is not None:
            await self.api.publish_presence_changed(self.presence())
            await self.api.publish_chat_message(
                LOBBY, ChatMessageEvent(author="server", text=f"{gone.name} left")
            )

    async def join(self, body: PresenceJoinRequest, ctx: Context) -> Presence:
        """``presence.join``: name this page (names are unique among those online)."""
        if ctx.client_id is None:
            raise NameTaken("only pages can join")
        taken = {m.name for c, m in self.members.items() if c != ctx.client_id}
        if body.name in taken:
            raise NameTaken(f"{body.name!r} is online already", {"name": body.name})
        self.members[ctx.client_id] = Member(clientId=ctx.client_id, name=body.name)
        await self.api.publish_presence_changed(self.presence())
        await self.api.publish_chat_message(
            LOBBY, ChatMessageEvent(author="server", text=f"{body.name} joined")
        )
        return self.presence()

    def on_message(self, body: ChatMessageEvent, ctx: Context) -> None:
        """Every line a page says, in any room (the subscription is ``chat.*.message``)."""
        room = ctx.params["room"]
        self.heard.append((room, body))
        print(f"chat: {room} {body.author}: {body.text}", flush=True)


def _client_of(body: Any) -> str | None:
    client_id = body.get("brokerClientID") if isinstance(body, dict) else None
    return client_id if isinstance(client_id, str) else None


def install(broker: Broker) -> None:
    """Put the chat on ``broker`` (no background task)."""
    ChatApp(broker)


def main() -> None:
    """``python examples/chat/server.py [--host H] [--port P]``."""
    run("chat", install, PAGES, 8082)


if __name__ == "__main__":
    main()
