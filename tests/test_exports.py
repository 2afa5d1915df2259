"""The public surface: what ``websocketmq`` exports is deliberate (STYLE §13)."""

from __future__ import annotations

import importlib
import pkgutil

import websocketmq

__all__: list[str] = []

EXPECTED = {
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
    "TOPIC_CLIENT_DEREGISTERED",
    "TOPIC_CLIENT_REGISTERED",
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
}
"""Exactly the public surface: adding or dropping a name is a decision made here too."""


def test_package_exports_the_documented_names() -> None:
    assert sorted(websocketmq.__all__) == sorted(EXPECTED)  # equality, not a superset
    assert len(websocketmq.__all__) == len(set(websocketmq.__all__))
    for name in websocketmq.__all__:
        assert hasattr(websocketmq, name), name


def test_every_module_declares_all() -> None:
    missing = []
    for info in pkgutil.walk_packages(websocketmq.__path__, "websocketmq."):
        if info.name.endswith(".models"):
            continue  # generated
        try:
            module = importlib.import_module(info.name)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] == "nats":
                continue  # the optional [nats] extra is not installed: nothing to check
            raise
        if not hasattr(module, "__all__"):
            missing.append(info.name)
    assert missing == []
