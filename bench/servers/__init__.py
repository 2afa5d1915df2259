"""Servers under test, each a script run in its own process (``python -m bench.servers.X``).

Every script prints ``bench: listening on ws://HOST:PORT/PATH`` (ours: the ``wsmq:`` line of
``wsmq serve``) once it accepts connections, and exits when its stdin reaches EOF, so the harness
never leaves a server behind.
"""

__all__: list[str] = []
