"""Hot-path experiments for the broker, measured before anyone edits the broker.

Each module here monkeypatches ``websocketmq`` on import. Run one beside the unmodified broker:
``BENCH_WSMQ_EXPERIMENT=bench/experiments/batch_write.py python -m bench --systems
wsmq,wsmq-exp,ws``. They are evidence for docs/benchmarks.md, not production code.
"""

__all__: list[str] = []
