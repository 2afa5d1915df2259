"""WebSocketMQ benchmark harness (issue 7): our broker side by side with its peers.

Run ``python -m bench`` (full run, writes ``docs/benchmarks.md`` and ``docs/benchmarks.png``)
or ``python -m bench --quick`` (a smoke run of a few seconds). Every server under test runs in
its own subprocess on 127.0.0.1 and is driven by separate client processes, so the server gets a
core of its own; repetitions of all servers are interleaved because the machine is shared and
noisy, and only medians and ratios measured side by side in one run are reported.
"""

__all__: list[str] = []
