"""WebSocketMQ: publish/subscribe and RPC in both directions over one WebSocket (wsmq/1).

Server::

    broker = Broker(BrokerOptions.default())

    @broker.subscribe("example.echo")
    async def echo(msg: Message, client_id: str | None) -> Any:
        return msg.body

    async with serve(broker, port=8080, path="/ws"):
        ...

Client::

    async with await connect("ws://127.0.0.1:8080/ws") as client:
        print(await client.request("example.echo", {"hi": 1}))
"""

from importlib import metadata as _metadata

from .broker import (
    TOPIC_CLIENT_DEREGISTERED,
    TOPIC_CLIENT_REGISTERED,
    Broker,
    BrokerOptions,
    ClientConnection,
    HandshakeRequest,
    Subscription,
)
from .client import Client, ClientOptions, ClientSubscription, Status, connect
from .errors import (
    AlreadyRegistered,
    BadMessage,
    BadTopic,
    Cancelled,
    ConnectFailed,
    ConnectionClosed,
    Disconnected,
    Forbidden,
    HandlerError,
    InternalError,
    InvalidBody,
    NoHandler,
    ProtocolError,
    RateLimited,
    RemoteError,
    RequestTimeout,
    ShuttingDown,
    TooLarge,
    Unauthenticated,
    UnknownClient,
    UnknownCorrelation,
    WsmqError,
)
from .protocol.envelope import Header, Message, new_error, new_event, new_request, new_response
from .server import Server, serve

try:
    __version__ = _metadata.version("websocketmq")
    """The installed distribution's version: pyproject.toml's ``version`` is the one place."""
except _metadata.PackageNotFoundError:  # pragma: no cover - imported from a bare source tree
    __version__ = "0+unknown"

__all__ = [
    "TOPIC_CLIENT_DEREGISTERED",
    "TOPIC_CLIENT_REGISTERED",
    "AlreadyRegistered",
    "BadMessage",
    "BadTopic",
    "Broker",
    "BrokerOptions",
    "Cancelled",
    "Client",
    "ClientConnection",
    "ClientOptions",
    "ClientSubscription",
    "ConnectFailed",
    "ConnectionClosed",
    "Disconnected",
    "Forbidden",
    "HandlerError",
    "HandshakeRequest",
    "Header",
    "InternalError",
    "InvalidBody",
    "Message",
    "NoHandler",
    "ProtocolError",
    "RateLimited",
    "RemoteError",
    "RequestTimeout",
    "Server",
    "ShuttingDown",
    "Status",
    "Subscription",
    "TooLarge",
    "Unauthenticated",
    "UnknownClient",
    "UnknownCorrelation",
    "WsmqError",
    "connect",
    "new_error",
    "new_event",
    "new_request",
    "new_response",
    "serve",
]
