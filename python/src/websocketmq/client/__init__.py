"""The Python client: ``await connect(url)`` → :class:`Client`."""

from .client import Client, ClientHandler, ClientSubscription, Status, connect
from .options import ClientOptions

__all__ = ["Client", "ClientHandler", "ClientOptions", "ClientSubscription", "Status", "connect"]
