"""The upgrade-time guards of websocketmq.guards, as rules and over real sockets on every
transport (tests/mounts.py): Host names against DNS rebinding (docs/security.md §3.1), the
Origin policy (§3), closing (503), connections per client IP behind trusted proxies (§4),
and ``authenticate`` seeing the cookies (§5). A transport that forgot a guard fails here."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mounts import TRANSPORTS, mounted
from rawpeer import RawPeer, envelope, error_code
from upgrade import upgrade, upgrade_status
from websocketmq import connect
from websocketmq.guards import client_ip, host_allowed, parse_cookies, proxy_networks
from websockets.datastructures import Headers

__all__: list[str] = []

PROXIES = proxy_networks(["127.0.0.1", "10.0.0.0/8"])


# -- the rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        ("203.0.113.9", [("X-Forwarded-For", "198.51.100.1")], "203.0.113.9"),  # not a proxy
        ("127.0.0.1", [], "127.0.0.1"),  # a proxy that said nothing
        ("127.0.0.1", [("X-Forwarded-For", "198.51.100.1")], "198.51.100.1"),
        # the client's own header ends up on the left: the nearest untrusted hop counts
        ("127.0.0.1", [("X-Forwarded-For", "6.6.6.6, 198.51.100.1")], "198.51.100.1"),
        ("127.0.0.1", [("X-Forwarded-For", "198.51.100.1, 10.1.2.3")], "198.51.100.1"),
        ("127.0.0.1", [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "10.0.0.2")], "6.6.6.6"),
        ("127.0.0.1", [("X-Forwarded-For", "unknown, 198.51.100.1")], "198.51.100.1"),
        ("127.0.0.1", [("X-Forwarded-For", "198.51.100.1, garbage")], "127.0.0.1"),
        ("127.0.0.1", [("X-Forwarded-For", "[2001:db8::1]:4711")], "2001:db8::1"),
        ("::ffff:127.0.0.1", [("X-Forwarded-For", "198.51.100.1:80")], "198.51.100.1"),
        ("127.0.0.1", [("Forwarded", "for=198.51.100.1")], "127.0.0.1"),  # not the header read
    ],
)
def test_client_ip_walks_trusted_hops_right_to_left(
    peer: str, headers: list[tuple[str, str]], expected: str
) -> None:
    assert client_ip(peer, Headers(headers), PROXIES) == expected


def test_client_ip_from_forwarded() -> None:
    value = 'for=6.6.6.6, for="[2001:db8::7]:4711";proto=https, for=10.0.0.3;by=10.0.0.1'
    headers = Headers([("Forwarded", value), ("X-Forwarded-For", "1.1.1.1")])
    assert client_ip("127.0.0.1", headers, PROXIES, "Forwarded") == "2001:db8::7"


def test_a_bad_trusted_proxy_entry_is_named() -> None:
    with pytest.raises(ValueError, match=r"'proxy\.example'"):
        proxy_networks(["10.0.0.1", "proxy.example"])


@pytest.mark.parametrize(
    ("host", "local", "allowed", "ok"),
    [
        ("localhost:8080", "127.0.0.1", None, True),
        ("app.localhost:8080", "127.0.0.1", None, True),
        ("127.0.0.1:8080", "127.0.0.1", None, True),
        ("127.1.2.3", "127.0.0.1", None, True),
        ("[::1]:8080", "::1", None, True),
        ("evil.example:8080", "127.0.0.1", None, False),  # rebinding
        ("localhost.evil.example", "127.0.0.1", None, False),
        ("192.168.1.5:8080", "127.0.0.1", None, False),
        ("evil.example:8080", "192.168.1.5", None, True),  # not loopback: Origin decides
        (None, "127.0.0.1", None, True),  # no Host: not a browser
        ("", "127.0.0.1", None, False),
        ("evil.example", "127.0.0.1", ["app.example"], False),
        ("app.example:443", "127.0.0.1", ["app.example"], True),
        ("a.app.example", "10.0.0.5", [".app.example"], True),
        ("app.example", "10.0.0.5", [".app.example"], True),
        ("xapp.example", "10.0.0.5", [".app.example"], False),
        ("other.example", "10.0.0.5", ["app.example"], False),  # a list applies everywhere
        ("10.0.0.5:8080", "10.0.0.5", ["app.example"], True),
        ("localhost", "10.0.0.5", ["app.example"], True),
        ("APP.Example.", "127.0.0.1", ["app.example"], True),
        ("anything.example", "127.0.0.1", ["*"], True),
    ],
)
def test_host_rule(host: str | None, local: str, allowed: list[str] | None, ok: bool) -> None:
    assert host_allowed(host, local, allowed) is ok


def test_cookies_are_parsed_from_every_cookie_header() -> None:
    headers = Headers([("Cookie", "session=abc; theme=dark"), ("Cookie", 'x="q"; bad')])
    assert parse_cookies(headers) == {"session": "abc", "theme": "dark", "x": "q"}


# -- over real sockets, on every transport -------------------------------------------------------


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_a_rebinding_host_is_refused_on_loopback(transport: str) -> None:
    async with mounted(transport) as m:
        evil = f"evil.example:{m.port}"
        origin = {"Origin": f"http://{evil}"}  # same-origin: passes the Origin check
        assert await upgrade_status(m.port, m.path, origin, host=evil) == 403
        assert await upgrade_status(m.port, m.path, host=f"localhost:{m.port}") == 101
        local = {"Origin": f"http://localhost:{m.port}"}
        assert await upgrade_status(m.port, m.path, local, host=f"localhost:{m.port}") == 101
    async with mounted(transport, allowed_hosts=["evil.example"]) as m:
        evil = f"evil.example:{m.port}"
        origin = {"Origin": f"http://{evil}"}
        assert await upgrade_status(m.port, m.path, origin, host=evil) == 101


async def test_a_cross_origin_upgrade_is_refused(transport: str) -> None:
    async with mounted(transport) as m:
        evil = {"Origin": "https://evil.example"}
        assert await upgrade_status(m.port, m.path, evil) == 403
        two = {"Origin": f"http://127.0.0.1:{m.port}", "origin": f"http://127.0.0.1:{m.port}"}
        # refused: by the guard (403), or by the server's own handshake first (uvicorn: 400)
        assert await upgrade_status(m.port, m.path, two) in (400, 403)
        assert await upgrade_status(m.port, m.path, {"Origin": f"http://127.0.0.1:{m.port}"}) == 101
    async with mounted(transport, allowed_origins=["https://app.example"]) as m:
        assert await upgrade_status(m.port, m.path, {"Origin": "https://app.example"}) == 101
        assert await upgrade_status(m.port, m.path, {"Origin": "https://evil.example"}) == 403


async def test_a_closing_broker_refuses_upgrades(transport: str) -> None:
    async with mounted(transport) as m:
        await m.broker.close()
        assert await upgrade_status(m.port, m.path) == 503


async def _wait_for_status(port: int, path: str, headers: dict[str, str], status: int) -> None:
    """Until an upgrade gets ``status``: the server frees a slot once it has seen the close."""
    async with asyncio.timeout(10):
        while (got := await upgrade_status(port, path, headers)) != status:
            assert got == 429
            await asyncio.sleep(0.05)


async def test_connections_per_ip_and_trusted_proxies(transport: str) -> None:
    async with mounted(transport, max_connections_per_ip=2) as m:
        held = [await upgrade(m.port, m.path) for _ in range(2)]
        assert [h.status for h in held] == [101, 101]
        assert await upgrade_status(m.port, m.path) == 429
        # without trusted proxies a forwarding header changes nothing (anyone can send one)
        assert await upgrade_status(m.port, m.path, {"X-Forwarded-For": "198.51.100.7"}) == 429
        await held.pop().aclose()
        await _wait_for_status(m.port, m.path, {}, 101)
        for h in held:
            await h.aclose()
    async with mounted(transport, max_connections_per_ip=1, trusted_proxies=["127.0.0.1"]) as m:
        a = {"X-Forwarded-For": "198.51.100.1"}
        b = {"X-Forwarded-For": "6.6.6.6, 198.51.100.2"}  # spoofed left part: ignored
        first = await upgrade(m.port, m.path, a)
        second = await upgrade(m.port, m.path, b)
        assert (first.status, second.status) == (101, 101)  # two clients behind one proxy
        assert await upgrade_status(m.port, m.path, a) == 429
        assert await upgrade_status(m.port, m.path, {"X-Forwarded-For": "198.51.100.2"}) == 429
        await first.aclose()
        await _wait_for_status(m.port, m.path, a, 101)
        await second.aclose()


async def test_a_cookie_login_becomes_the_identity(transport: str) -> None:
    sessions = {"s3cret": "alice"}
    scopes: list[Any] = []

    async def authenticate(request: Any) -> Any:
        scopes.append(request.scope)
        user = sessions.get(request.cookies.get("session", ""))
        return None if user is None else {"user": user}

    async with mounted(transport, authenticate=authenticate) as m:
        assert await upgrade_status(m.port, m.path) == 401
        assert await upgrade_status(m.port, m.path, {"Cookie": "session=wrong"}) == 401
        cookie = {"additional_headers": {"Cookie": "theme=dark; session=s3cret"}}
        async with await connect(m.url, ws_options=cookie, auto_reconnect=False) as client:
            assert await client.request("t.whoami", None) == {"identity": {"user": "alice"}}
    # the hook sees the transport's own request: the ASGI scope, the aiohttp web.Request
    scope = scopes[-1]
    if transport in ("asgi", "starlette-routes"):
        assert scope["type"] == "websocket" and scope["path"] == "/ws"
    elif transport == "aiohttp":
        assert scope.path == "/ws" and scope.cookies["session"] == "s3cret"
    else:
        assert scope is None


async def test_an_authenticate_hook_past_the_handshake_deadline_is_refused(transport: str) -> None:
    """A hook that hangs cannot hold the upgrade (or its per-IP slot) past
    ``handshake_timeout``: 401 from the guard, or the standalone server's own deadline from TCP
    accept drops the connection first."""

    async def authenticate(request: Any) -> Any:
        await asyncio.sleep(30)
        return {"user": "never"}

    async with mounted(
        transport, authenticate=authenticate, handshake_timeout=0.5, max_connections_per_ip=1
    ) as m:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            status: int | None = await upgrade_status(m.port, m.path)
        except (asyncio.IncompleteReadError, ConnectionError):
            status = None  # dropped without an answer
        assert loop.time() - started < 5
        assert status == 401 if transport != "standalone" else status in (None, 401)
        m.broker.options.authenticate = None  # the slot was given back
        await _wait_for_status(m.port, m.path, {}, 101)


async def test_first_message_authentication_on_every_transport(transport: str) -> None:
    """``authenticate_message`` is the broker's, not the transport's: the same on each."""

    def authenticate_message(_upgrade_identity: Any, auth: Any) -> Any:
        return {"user": "carol"} if auth == "token-1" else None

    async with mounted(transport, authenticate_message=authenticate_message) as m:
        async with await connect(m.url, auth="token-1", auto_reconnect=False) as client:
            assert await client.request("t.whoami", None) == {"identity": {"user": "carol"}}
        peer = await RawPeer.connect(m.url, register=False)
        await peer.send(envelope("event", "_client.register", {"auth": "wrong"}))
        assert await peer.closed() == 1008
        assert error_code(peer.inbox[-1]) == "UNAUTHENTICATED"
