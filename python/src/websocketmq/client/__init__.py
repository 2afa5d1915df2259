"""The Python client: ``await connect(url)`` → :class:`Client`."""

from .client import Client, ClientHandler, ClientSubscription, Status, connect

__all__ = ["Client", "ClientHandler", "ClientSubscription", "Status", "connect"]
