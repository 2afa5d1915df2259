"""The public surface: what ``websocketmq`` exports is deliberate (STYLE §13)."""

from __future__ import annotations

import importlib
import pkgutil

import websocketmq

__all__: list[str] = []

EXPECTED = {
    "Broker",
    "BrokerOptions",
    "Message",
    "new_response",
    "serve",
    "connect",
    "Client",
    "Status",
    "WsmqError",
    "NoHandler",
    "RequestTimeout",
    "Disconnected",
    "ShuttingDown",
    "UnknownClient",
    "Forbidden",
    "BadMessage",
    "BadTopic",
    "TooLarge",
    "RemoteError",
}


def test_package_exports_the_documented_names() -> None:
    assert set(websocketmq.__all__) >= EXPECTED
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
