"""The asyncio broker and its options."""

from .broker import (
    TOPIC_CLIENT_DEREGISTERED,
    TOPIC_CLIENT_REGISTERED,
    Broker,
    ClientConnection,
    Handler,
    Subscription,
    Transport,
)
from .options import Authenticate, Authorize, BrokerOptions, HandshakeRequest

__all__ = [
    "TOPIC_CLIENT_DEREGISTERED",
    "TOPIC_CLIENT_REGISTERED",
    "Authenticate",
    "Authorize",
    "Broker",
    "BrokerOptions",
    "ClientConnection",
    "Handler",
    "HandshakeRequest",
    "Subscription",
    "Transport",
]
