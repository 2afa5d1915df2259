"""The case modules; importing this package registers every case in ``model.REGISTRY``.

Categories (stable numbering, never reuse an ID):
1 registration and resume · 2 envelope · 3 pub/sub · 4 client→server RPC ·
5 server→client RPC · 6 bad input and reserved topics (6.3.* come from the vector files) ·
7 ordering · 8 keepalive · 9 limits.
"""

from . import (  # noqa: F401 - imported for their registrations
    bad_input,
    callback,
    envelopes,
    keepalive,
    limits,
    ordering,
    pubsub,
    registration,
    rpc,
)

__all__: list[str] = []
