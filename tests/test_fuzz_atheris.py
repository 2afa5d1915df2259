"""Coverage-guided fuzzing of the envelope decoder with atheris (libFuzzer), bounded in runs.

Hypothesis (test_fuzz_envelope.py) explores structure we describe; libFuzzer explores the byte
level guided by coverage of the decoder. The fuzz target runs in a child process because
``atheris.Fuzz()`` never returns normally (libFuzzer exits the process); the child is bounded by
``-runs`` and by a wall-clock timeout. Skipped when atheris is not installed (it is in the
``dev`` extra; wheels exist for CPython 3.11 on x86-64 Linux).

Run longer by hand: ``python tests/test_fuzz_atheris.py -runs=1000000``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

__all__ = ["fuzz_one"]

RUNS = int(os.environ.get("WSMQ_ATHERIS_RUNS", "50000"))
# msgspec is C code libFuzzer cannot see, so coverage alone would not find the envelope shape:
# seed the corpus with valid envelopes and let the mutator make near-misses of them.
SEEDS = [
    b'{"header":{"messageID":"m-1","correlationID":"c-1","type":"request","topic":"a.b",'
    b'"timestamp":1764110000000,"ttl":5000},"body":{"k":[1,2.5,"x",null,true]}}',
    b'{"header":{"messageID":"m-2","type":"event","topic":"_client.register"},"body":{}}',
    b'{"header":{"messageID":"m-3","correlationID":"c-1","type":"error","topic":"c-1"},'
    b'"body":{"error":{"code":"NO_HANDLER","message":"x"}}}',
    b'{"header":{"messageID":"m-4","correlationID":"c-1","type":"response","topic":"c-1",'
    b'"source":"\\u00e9"},"body":[[[]]]}',
]


def fuzz_one(data: bytes) -> None:
    """libFuzzer target: decode as bytes and as text; only ProtocolError may escape."""
    from websocketmq.errors import ProtocolError
    from websocketmq.limits import json_depth
    from websocketmq.protocol.envelope import decode, encode

    json_depth(data)  # never raises, whatever the bytes
    for frame in (data, data.decode("utf-8", "surrogateescape")):
        try:
            msg = decode(frame)
        except ProtocolError:
            continue
        assert decode(encode(msg)) == msg


def test_atheris_decoder(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, seed in enumerate(SEEDS):
        (corpus / f"seed-{i}").write_bytes(seed)
    proc = subprocess.run(
        [sys.executable, __file__, str(corpus), f"-runs={RUNS}", "-max_len=4096", "-seed=1"],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,  # crash-* artifacts land here, not in the repository
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Done" in proc.stderr, proc.stderr[-2000:]


if __name__ == "__main__":
    import atheris

    with atheris.instrument_imports():
        import websocketmq.limits
        import websocketmq.protocol.envelope  # noqa: F401

    atheris.Setup(sys.argv, fuzz_one)
    atheris.Fuzz()
