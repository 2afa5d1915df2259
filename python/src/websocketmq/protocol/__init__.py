"""The sans-I/O core of wsmq/1: codec, topics, per-connection session, pending-request table.

Nothing in this package imports asyncio or touches a socket: bytes and decoded envelopes go in,
frames to send and events for the broker come out. The broker, the Python client and later
adapters (ASGI, NATS cluster) are thin layers around it.
"""

__all__: list[str] = []
