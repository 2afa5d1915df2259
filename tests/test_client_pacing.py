"""Issue 18: the Python client paces itself under the broker's message rate (spec §6.2, §12.1;
``websocketmq.protocol.pacing``), so the default limits never close a client of ours.

The integration tests run real brokers on 127.0.0.1: with ``BrokerOptions.default()`` a
client with 256 requests in flight (several bursts' worth in total) gets every answer and is
never closed 4029; a client whose pacer knows nothing of the rate (as against a broker that
announces none) learns it from the refusals, halves its rate, and still gets every answer by
sending the dropped requests again. The unit tests drive the bucket with plain numbers.
"""

from __future__ import annotations

import asyncio
import math

import pytest
from websocketmq import BrokerOptions, Message, connect
from websocketmq.protocol.pacing import Pacer
from websocketmq.testing import run_broker

__all__: list[str] = []


async def _echo(msg: Message, _client: str | None) -> object:
    return msg.body


async def test_256_requests_in_flight_on_default_limits_all_complete_and_no_4029() -> None:
    options = BrokerOptions.default()
    total = 256 * 3  # past the default burst (400): the sustained rate must apply
    assert options.message_burst < total
    async with run_broker(options=options) as live:
        live.broker.subscribe("bench.echo", _echo)
        client = await connect(live.url, auto_reconnect=False)
        try:
            assert client.registration["messageRate"] == options.message_rate
            assert client.registration["messageBurst"] == options.message_burst
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(total):
                queue.put_nowait(i)
            results: dict[int, object] = {}

            async def worker() -> None:
                while not queue.empty():
                    i = queue.get_nowait()
                    results[i] = await client.request("bench.echo", {"n": i}, 60)

            await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(256))), 60)
            assert results == {i: {"n": i} for i in range(total)}
            assert client.connected and client.last_close_code is None
            assert client.session.pacer.limited_count == 0  # paced from the ack: never refused
            conn = live.broker.get_client(client.client_id or "")
            assert conn is not None  # still the same live connection on the broker
        finally:
            await client.close()


async def test_a_client_that_was_told_no_rate_learns_it_from_refusals() -> None:
    """The reactive half: a pacer with no announced rate (a broker or proxy that says nothing)
    halves on each ``RATE_LIMITED`` (message rate) and the dropped requests are sent again."""
    async with run_broker(message_rate=100, message_burst=20, error_budget=10_000) as live:
        live.broker.subscribe("bench.echo", _echo)
        client = await connect(live.url, auto_reconnect=False)
        try:
            loop = asyncio.get_running_loop()
            client.session.pacer.configure(None, None, now=loop.time())  # announce nothing
            assert client.session.pacer.unlimited
            calls = [client.request("bench.echo", i, 30) for i in range(150)]
            results = await asyncio.wait_for(asyncio.gather(*calls), 40)
            assert results == list(range(150))
            pacer = client.session.pacer
            assert pacer.limited_count > 0 and pacer.rate < math.inf
        finally:
            await client.close()


async def test_pace_off_sends_at_once_and_the_refusal_reaches_the_caller() -> None:
    """``pace=False``: no bucket, no retry; the broker's RATE_LIMITED is the caller's error."""
    async with run_broker(message_rate=1, message_burst=2, error_budget=10_000) as live:
        live.broker.subscribe("bench.echo", _echo)
        client = await connect(live.url, auto_reconnect=False, pace=False)
        try:
            assert client.session.pacer.unlimited
            outcomes = await asyncio.gather(
                *(client.request("bench.echo", i, 10) for i in range(6)), return_exceptions=True
            )
            codes = {getattr(o, "code", "ok") for o in outcomes}
            assert codes == {"ok", "RATE_LIMITED"}, outcomes
        finally:
            await client.close()


# -- the bucket itself (sans-I/O) ------------------------------------------------------------


def test_unconfigured_pacer_is_unlimited() -> None:
    pacer = Pacer()
    assert pacer.unlimited and pacer.delay(0.0) == 0.0


def test_announced_rate_gives_the_burst_at_once_then_spaces_at_the_rate() -> None:
    """90 % of the announced rate and burst (headroom for jitter), less the token the
    registration took."""
    pacer = Pacer()
    pacer.configure(100, 10, now=0.0)
    assert pacer.rate == pytest.approx(90) and pacer.burst == pytest.approx(9)
    assert [pacer.delay(0.0) for _ in range(8)] == [0.0] * 8
    assert pacer.delay(0.0) == pytest.approx(1 / 90)  # reserved slots queue up in order
    assert pacer.delay(0.0) == pytest.approx(2 / 90)
    assert pacer.delay(10.0) == 0.0  # refilled, capped at the burst
    assert [pacer.delay(10.0) for _ in range(9)][-1] > 0  # the burst is capped at 9


def test_zero_rate_means_no_limit() -> None:
    pacer = Pacer()
    pacer.configure(0, 0, now=0.0)
    assert pacer.unlimited


def test_a_refusal_halves_the_rate_and_pauses_for_the_backoff() -> None:
    pacer = Pacer(recover_after=1.0, backoff=0.05)
    pacer.configure(100, 100, now=0.0)
    pacer.limited(0.0)
    assert pacer.rate == pytest.approx(45) and pacer.limited_count == 1
    assert pacer.delay(0.0) == pytest.approx(0.05)  # the backoff pause
    pacer.limited(0.1)  # the rest of the same overshoot: counted, not halved again
    assert pacer.rate == pytest.approx(45) and pacer.limited_count == 2
    pacer.limited(0.5)  # refused again a round trip later: halves, backoff doubles
    assert pacer.rate == pytest.approx(22.5) and pacer.backoff == pytest.approx(0.1)
    assert pacer.delay(0.5) >= 0.1 - 1e-9


def test_quiet_seconds_recover_the_rate_up_to_the_announced_ceiling() -> None:
    pacer = Pacer(recover_after=1.0)
    pacer.configure(100, 100, now=0.0)
    pacer.limited(0.0)
    assert pacer.rate == pytest.approx(45)
    pacer.delay(1.0)
    assert pacer.rate == pytest.approx(67.5)
    pacer.delay(10.0)
    assert pacer.rate == pytest.approx(90)  # never above (90 % of) what the broker announced


def test_without_a_ceiling_the_pacer_turns_unlimited_again_after_recovering() -> None:
    pacer = Pacer(recover_after=1.0)
    pacer.limited(0.0)  # unpaced until now: starts halving from its guess
    assert 1 <= pacer.rate < math.inf
    pacer.delay(60.0)  # a minute without refusals
    assert pacer.unlimited


def test_the_rate_never_drops_below_one_per_second() -> None:
    pacer = Pacer()
    pacer.configure(2, 2, now=0.0)
    for i in range(10):
        pacer.limited(i * 0.3)
    assert pacer.rate == 1.0 and pacer.backoff <= 5.0
