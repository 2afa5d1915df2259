"""The measurement loop: shapes (a)-(d) against every system, repetitions interleaved.

Order: for each repetition, for each system (rotated by one each repetition so no system always
runs first), start its server, run every throughput shape against it, stop it. Memory is
measured afterwards, once per system and connection count, each on a fresh server. Every
measurement spawns its own client processes, so the server has a core of its own.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil

from bench import nodeclient
from bench.procs import BenchError, Proc, python_argv
from bench.systems import PROFILE_DIR, SYSTEMS, Running, System

__all__ = ["Config", "Sample", "rpc_shapes", "run_all"]


@dataclass
class Config:
    """What to run; ``--quick`` shrinks durations, repetitions and connection counts."""

    systems: list[str]
    reps: int = 3
    duration: float = 2.0
    warmup: float = 0.3
    window: int = 64
    fanout: list[int] = field(default_factory=lambda: [100, 1000])
    memory: list[int] = field(default_factory=lambda: [1000, 10000])
    subs_per_proc: int = 500
    idle_per_proc: int = 2500
    fanout_min_msgs: int = 50
    fanout_max_msgs: int = 50_000
    idle_timeout: float = 15.0
    quick: bool = False
    rpc: bool = True
    rpc_shapes: list[str] | None = None
    """Only these RPC shapes (e.g. ``["s2c_64"]``), for profiling one path."""
    client: str | None = None
    """Force one load-generator client stack for every system (default: per system)."""


@dataclass
class Sample:
    """One measurement of one shape on one system."""

    system: str
    shape: str
    rep: int
    value: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def rpc_shapes(cfg: Config) -> list[tuple[str, str, int]]:
    """(shape name, role, window) for the RPC shapes (a) and (b)."""
    w = cfg.window
    return [
        ("c2s_seq", "rpc", 1),
        (f"c2s_{w}", "rpc", w),
        ("s2c_seq", "s2c", 1),
        (f"s2c_{w}", "s2c", w),
    ]


def _cpu(pids: list[int]) -> float:
    """User+system CPU seconds used so far by the server-side processes."""
    total = 0.0
    for pid in pids:
        t = psutil.Process(pid).cpu_times()
        total += t.user + t.system
    return total


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


_CLIENT: dict[str, str] = {}

NODE_DIALECT = "wsmq-ts"
"""Rows whose load generators are the Node script (bench/node/load.mts), not bench.load."""


async def _client(name: str, spec: dict[str, Any]) -> Proc:
    system = SYSTEMS[name.split(":")[0]]
    if system.dialect == NODE_DIALECT:  # our TypeScript client under Node (bench.nodeclient)
        prof = PROFILE_DIR[0] if PROFILE_DIR else None
        return await Proc.start(name, await nodeclient.argv(spec, prof))
    spec = {"client": _CLIENT.get("force") or system.client, **spec}
    return await Proc.start(name, python_argv("bench.load", json.dumps(spec)))


async def measure_rpc(
    system: System, running: Running, shape: str, role: str, window: int, cfg: Config, rep: int
) -> Sample:
    """(a)/(b): one client process, ``window`` requests in flight, round trips/s + latency."""
    spec = {
        "role": role,
        "dialect": system.dialect,
        "url": running.urls[-1],
        "window": window,
        "duration": cfg.duration,
        "warmup": cfg.warmup,
        "max_seconds": cfg.duration + 120,
    }
    cpu0 = _cpu(running.cpu_pids)
    split0 = [_cpu([pid]) for pid in running.cpu_pids]
    proc = await _client(f"{system.name}:{shape}", spec)
    try:
        res = await proc.event("result", cfg.duration + 130)
        cpu = _cpu(running.cpu_pids) - cpu0
        split = [_cpu([pid]) - c0 for pid, c0 in zip(running.cpu_pids, split0, strict=True)]
    finally:
        await proc.stop()
    if res.get("errors"):
        raise BenchError(f"{res['errors']} failed requests")
    ops = max(res.get("total") or res["count"], 1)
    res["server_cpu_us_per_op"] = cpu / ops * 1e6
    # Per server process (nats-server, node A, node B… in start order) for multi-process rows.
    res["server_cpu_us_per_op_split"] = {
        p.name: c / ops * 1e6 for p, c in zip(running.procs, split, strict=True)
    }
    return Sample(system.name, shape, rep, res["rate"], res["p50_ms"], res["p99_ms"], res)


async def measure_fanout(
    system: System, running: Running, nsubs: int, count: int, cfg: Config, rep: int
) -> Sample:
    """(c): ``nsubs`` subscriber connections over several processes, one publisher process
    sending ``count`` messages; deliveries/s from the first send to the last delivery. Any
    missing or duplicate delivery raises (fails the run)."""
    nprocs = max(1, math.ceil(nsubs / cfg.subs_per_proc))
    per = [nsubs // nprocs + (1 if i < nsubs % nprocs else 0) for i in range(nprocs)]
    subs: list[Proc] = []
    pub: Proc | None = None
    try:
        for i, n in enumerate(per):
            spec = {
                "role": "sub",
                "dialect": system.dialect,
                "url": running.urls[i % len(running.urls)],
                "urls": running.urls,
                "conns": n,
                "count": count,
                "idle_timeout": cfg.idle_timeout,
                "max_seconds": 600,
            }
            subs.append(await _client(f"{system.name}:sub{i}", spec))
        for p in subs:
            await p.event("ready", 300)
        cpu0 = _cpu(running.cpu_pids)
        pub = await _client(
            f"{system.name}:pub",
            {
                "role": "pub",
                "dialect": system.dialect,
                "url": running.urls[0],
                "count": count,
                "max_seconds": 900,
            },
        )
        sent = await pub.event("result", 600)
        results = [await p.event("result", 600) for p in subs]
        cpu = _cpu(running.cpu_pids) - cpu0
    finally:
        for p in [*subs, *([pub] if pub else [])]:
            await p.stop()
    total = nsubs * count
    received = sum(r["received"] for r in results)
    missing = sum(r["missing"] for r in results)
    dups = sum(r["dups"] for r in results)
    t_last = max(r["t_last"] for r in results)
    detail = {
        "subs": nsubs,
        "msgs": count,
        "expected": total,
        "received": received,
        "missing": missing,
        "dups": dups,
        "foreign": sum(r["foreign"] for r in results),
        "elapsed": t_last - sent["t0"],
        "publish_s": sent["t_sent"] - sent["t0"],
        "server_cpu_us_per_op": cpu / max(total, 1) * 1e6,
        "subscriber_cpu_us_per_op": sum(r["cpu_s"] for r in results) / max(total, 1) * 1e6,
    }
    if missing or dups or received != total:
        raise BenchError(f"fan-out accounting failed: {detail}")
    return Sample(
        system.name, f"fanout_{nsubs}", rep, total / max(t_last - sent["t0"], 1e-9), detail=detail
    )


async def measure_memory(system: System, n: int, cfg: Config) -> Sample:
    """(d): server RSS growth per idle, fully set-up connection, on a fresh server."""
    running = await system.start()
    procs: list[Proc] = []
    try:
        # Warm the server (imports, lazy structures, first-connection allocations) first.
        warm = await _client(
            f"{system.name}:warm",
            {"role": "idle", "dialect": system.dialect, "url": running.url, "conns": 20},
        )
        await warm.event("ready", 120)
        await warm.stop()
        rss0 = psutil.Process(running.rss_pid).memory_info().rss
        nprocs = max(1, math.ceil(n / cfg.idle_per_proc))
        per = [n // nprocs + (1 if i < n % nprocs else 0) for i in range(nprocs)]
        for i, k in enumerate(per):
            procs.append(
                await _client(
                    f"{system.name}:idle{i}",
                    {
                        "role": "idle",
                        "dialect": system.dialect,
                        "url": running.urls[i % len(running.urls)],
                        "conns": k,
                        "max_seconds": 900,
                    },
                )
            )
        opened = sum([(await p.event("ready", 600))["conns"] for p in procs])
        rss1 = psutil.Process(running.rss_pid).memory_info().rss
        for p in procs:
            p.close_stdin()
        alive = sum([(await p.event("result", 120))["alive"] for p in procs])
    finally:
        for p in procs:
            await p.stop()
        await running.stop()
    detail = {"conns": opened, "alive_at_end": alive, "rss_before": rss0, "rss_after": rss1}
    if opened != n or alive != n:
        raise BenchError(f"idle connections dropped: {detail}")
    return Sample(system.name, f"idle_{n}", 0, (rss1 - rss0) / n / 1024.0, detail=detail)


async def _guarded(coro: Any, system: str, shape: str, rep: int) -> Sample:
    t = time.perf_counter()
    try:
        s: Sample = await coro
    except (BenchError, OSError, psutil.Error) as e:
        _log(f"{system} {shape}: FAILED: {e}")
        return Sample(system, shape, rep, error=str(e)[:2000])
    unit = "KiB/conn" if shape.startswith("idle") else "/s"
    extra = f" p50 {s.p50_ms:.2f} ms p99 {s.p99_ms:.2f} ms" if s.p50_ms is not None else ""
    if "server_cpu_us_per_op" in s.detail:
        extra += f", server {s.detail['server_cpu_us_per_op']:.1f} µs CPU/op"
    if s.detail.get("client_cpu_us_per_op") is not None:
        extra += f", client {s.detail['client_cpu_us_per_op']:.1f} µs"
    _log(
        f"{system:11} {shape:12} rep {rep}: {s.value:,.1f} {unit}{extra} "
        f"({time.perf_counter() - t:.1f}s)"
    )
    return s


async def _fanout_calibrated(
    system: System,
    running: Running,
    nsubs: int,
    cfg: Config,
    rep: int,
    est: dict[tuple[str, int], float],
) -> Sample:
    """Fan-out with a message count sized so the run lasts about ``duration``: the rate
    estimate comes from the previous repetition; a run much shorter than ``duration`` (first
    repetition, a bad guess) is repeated with the count it suggests and only the last kept."""
    s = Sample(system.name, f"fanout_{nsubs}", rep)
    for _attempt in range(3):
        rate = est.get((system.name, nsubs), 50_000.0)
        count = int(min(max(rate * cfg.duration / nsubs, cfg.fanout_min_msgs), cfg.fanout_max_msgs))
        s = await _guarded(
            measure_fanout(system, running, nsubs, count, cfg, rep),
            system.name,
            f"fanout_{nsubs}",
            rep,
        )
        if not s.value:
            return s
        est[(system.name, nsubs)] = s.value
        if s.detail["elapsed"] >= cfg.duration / 2 or count >= cfg.fanout_max_msgs:
            return s
    return s


async def run_all(cfg: Config) -> list[dict[str, Any]]:
    """Run everything ``cfg`` asks for; return every sample as a dict."""
    if cfg.client:
        _CLIENT["force"] = cfg.client
    samples: list[Sample] = []
    est: dict[tuple[str, int], float] = {}
    names = list(cfg.systems)
    for name in [x for x in names if SYSTEMS[x].dialect == NODE_DIALECT]:
        # Build the Node load generator before any measurement, not inside the first one.
        try:
            await nodeclient.build()
        except BenchError as e:
            _log(f"{name}: could not build its load generator: {e}")
            samples.append(Sample(name, "start", 0, error=str(e)[:2000]))
            names.remove(name)
    for rep in range(cfg.reps if names else 0):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            system = SYSTEMS[name]
            try:
                running = await system.start()
            except BenchError as e:
                _log(f"{name}: could not start: {e}")
                samples.append(Sample(name, "start", rep, error=str(e)[:2000]))
                continue
            try:
                for shape, role, window in rpc_shapes(cfg) if cfg.rpc else []:
                    if cfg.rpc_shapes and shape not in cfg.rpc_shapes:
                        continue
                    samples.append(
                        await _guarded(
                            measure_rpc(system, running, shape, role, window, cfg, rep),
                            name,
                            shape,
                            rep,
                        )
                    )
                for nsubs in cfg.fanout:
                    samples.append(await _fanout_calibrated(system, running, nsubs, cfg, rep, est))
            finally:
                await running.stop()
    for n in cfg.memory:
        for name in [x for x in names if SYSTEMS[x].memory]:
            samples.append(
                await _guarded(measure_memory(SYSTEMS[name], n, cfg), name, f"idle_{n}", 0)
            )
    return [asdict(s) for s in samples]
