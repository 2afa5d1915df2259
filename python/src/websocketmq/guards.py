"""Every check a WebSocket upgrade passes before it becomes a wsmq connection, in one place.

The standalone server (``server.py``), the ASGI adapter (``asgi.py``) and the aiohttp adapter
(``aiohttp.py``) each describe an upgrade as an :class:`Upgrade` and ask one
:class:`UpgradeGuard` to :meth:`~UpgradeGuard.admit` it; none of them decides anything on its
own, so no transport can forget a guard (docs/security.md §2 to §4). In order:

=============================  ==============================  ==================================
guard                          refusal                         documented in
=============================  ==============================  ==================================
Host name (DNS rebinding)      HTTP 403 "host not allowed"     docs/security.md §3.1
Origin policy (CSWSH)          HTTP 403 "origin not allowed"   docs/security.md §3
closing or draining            HTTP 503                        docs/operations.md, "Health"
connections per client IP      HTTP 429                        docs/security.md §4
``authenticate`` hook          HTTP 401 (also: over deadline)  docs/security.md §5
=============================  ==============================  ==================================

The client IP the limit counts is the socket's peer, or, when that peer is one of
``trusted_proxies``, the address the proxy reports in ``X-Forwarded-For`` (or ``Forwarded``,
RFC 7239): :func:`client_ip`. What stays with each transport is what only it can do: the
handshake deadline from TCP accept (websockets' ``open_timeout``; the ASGI/aiohttp server's
own timeouts before the application sees the request), frame size cut-offs, and writing the
refusal as an HTTP response. First-message authentication needs no transport at all: the
broker applies it to every connection it is given (``broker/auth.py``).
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .limits import ConnectionCounter, origin_allowed, redact

if TYPE_CHECKING:
    from websockets.datastructures import Headers

    from .broker import Broker
    from .broker.options import BrokerOptions

__all__ = [
    "Admission",
    "Refusal",
    "Upgrade",
    "UpgradeGuard",
    "client_ip",
    "host_allowed",
    "parse_cookies",
    "proxy_networks",
]

log = logging.getLogger("websocketmq.server")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Refusal:
    """An upgrade refused: the HTTP status, reason phrase and body text to answer with."""

    status: int
    reason: str
    text: str

    @property
    def body(self) -> bytes:
        """The response body (UTF-8)."""
        return self.text.encode()


HOST_REFUSED = Refusal(403, "Forbidden", "host not allowed\n")
ORIGIN_REFUSED = Refusal(403, "Forbidden", "origin not allowed\n")
SHUTTING_DOWN = Refusal(503, "Service Unavailable", "shutting down\n")
TOO_MANY = Refusal(429, "Too Many Requests", "too many connections\n")
UNAUTHENTICATED = Refusal(401, "Unauthorized", "unauthenticated\n")


@dataclass(frozen=True, slots=True)
class Upgrade:
    """One upgrade request as every transport can describe it."""

    path: str
    """The request target: path and query string (tokens may travel in the query)."""
    headers: Headers
    """The request headers (``websockets.datastructures.Headers``: case-insensitive,
    ``get_all`` for repeated ones), whatever the transport, so hooks see one type."""
    peer: Any
    """The socket's remote address, ``(ip, port)`` (a reverse proxy's, behind one)."""
    local: Any = None
    """The socket's local address ``(ip, port)``: the interface the request arrived on."""
    scope: Any = None
    """The transport's own request object: the ASGI scope, the aiohttp ``web.Request``."""


@dataclass(slots=True)
class Admission:
    """An admitted upgrade: who it is and the per-IP slot it holds until :meth:`release`."""

    identity: Any
    ip: str
    _counter: ConnectionCounter | None = field(default=None, repr=False)

    def release(self) -> None:
        """Give the per-IP slot back; idempotent (call it on every way out)."""
        counter, self._counter = self._counter, None
        if counter is not None:
            counter.release(self.ip)


# -- client IP behind trusted proxies ----------------------------------------------------------


def proxy_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """``trusted_proxies`` parsed: addresses (``10.0.0.7``) or networks (``10.0.0.0/8``).
    A bad entry raises ValueError naming it, when the server starts, not on a request."""
    networks: list[IPNetwork] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            msg = f"trusted_proxies: {entry!r} is not an IP address or network"
            raise ValueError(msg) from None
    return tuple(networks)


def _address(text: str) -> IPAddress | None:
    """An IP address from a forwarding header's node: ``1.2.3.4``, ``1.2.3.4:80``,
    ``[2001:db8::1]:4711``, ``"[::1]"``; None for ``unknown``, obfuscated names, garbage."""
    text = text.strip().strip('"').strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _forwarded_for(values: Sequence[str]) -> list[str]:
    """The ``for=`` nodes of ``Forwarded`` headers (RFC 7239 §4), nearest hop last."""
    nodes: list[str] = []
    for value in values:
        for element in value.split(","):
            for pair in element.split(";"):
                name, _, node = pair.partition("=")
                if name.strip().lower() == "for":
                    nodes.append(node)
    return nodes


def _trusted(address: IPAddress | None, networks: Sequence[IPNetwork]) -> bool:
    return address is not None and any(address in net for net in networks)


def client_ip(
    peer_ip: str, headers: Headers, networks: Sequence[IPNetwork], header: str = "X-Forwarded-For"
) -> str:
    """The client address of a request: ``peer_ip`` unless that is a trusted proxy; then the
    nearest address in ``header`` that is not itself a trusted proxy (walking right to left,
    the hops our proxies appended, so a client cannot choose its address by sending the
    header itself: its own value ends up on the left). A node that is not an IP address ends
    the walk at the last proxy that reported it."""
    peer = _address(peer_ip)
    if not networks or not _trusted(peer, networks):
        return peer_ip
    values = headers.get_all(header)
    if header.lower() == "forwarded":
        nodes = _forwarded_for(values)
    else:
        nodes = [node for value in values for node in value.split(",")]
    resolved = peer_ip
    for node in reversed(nodes):
        address = _address(node)
        if address is None:
            break
        resolved = str(address)
        if not _trusted(address, networks):
            break
    return resolved


# -- Host names (DNS rebinding) ----------------------------------------------------------------


def _hostname(host: str) -> str | None:
    try:
        return urlsplit(f"//{host.strip()}").hostname
    except ValueError:
        return None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _loopback_name(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    address = _address(name)
    return address is not None and address.is_loopback


def host_allowed(host: str | None, local_ip: str | None, allowed: Sequence[str] | None) -> bool:
    """The Host rule against DNS rebinding (docs/security.md §3.1).

    A rebinding page is served from the attacker's name, which then resolves to 127.0.0.1:
    its requests carry ``Host`` and ``Origin`` of that name, so the same-origin check passes.
    What gives it away is a foreign name on a loopback socket. So, like Vite and
    webpack-dev-server:

    - ``allowed is None`` (default): a request arriving on a loopback address must name a
      loopback host (``localhost``, ``*.localhost``, ``127.x.x.x``, ``[::1]``); on other
      interfaces any name passes.
    - a list: on every interface, the name must be a loopback name, an IP literal, or one of
      the list's entries (``example.com``; ``.example.com`` also admits its subdomains;
      ``"*"`` admits everything).

    No ``Host`` (no browser omits it) passes.
    """
    if host is None:
        return True
    name = _hostname(host)
    if not name:
        return False
    name = name.lower().rstrip(".")
    if _loopback_name(name):
        return True
    if allowed is None:
        local = _address(local_ip) if local_ip else None
        return local is None or not local.is_loopback
    if _is_ip(name):
        return True
    for entry in allowed:
        entry = entry.strip().lower().rstrip(".")
        if entry == "*" or entry == name or (entry.startswith(".") and f".{name}".endswith(entry)):
            return True
    return False


# -- cookies -----------------------------------------------------------------------------------


def parse_cookies(headers: Headers) -> dict[str, str]:
    """The request's cookies (every ``Cookie`` header; a malformed pair is skipped)."""
    cookies: dict[str, str] = {}
    for value in headers.get_all("Cookie"):
        for pair in value.split(";"):
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(pair)
            except CookieError:
                continue
            cookies.update({key: morsel.value for key, morsel in jar.items()})
    return cookies


# -- the guard ---------------------------------------------------------------------------------


def _ip_of(address: Any) -> str:
    if isinstance(address, tuple | list) and address:
        return str(address[0])
    return "" if address is None else str(address)


class UpgradeGuard:
    """The upgrade-time guards of one broker (one per server or adapter)."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        opts: BrokerOptions = broker.options
        self._proxies = proxy_networks(opts.trusted_proxies)
        self.per_ip = ConnectionCounter(opts.max_connections_per_ip)
        """Connections per client IP now (the 429 limit)."""

    @property
    def options(self) -> BrokerOptions:
        """The broker's options (read on each request: tests and apps may change them)."""
        return self.broker.options

    def client_ip(self, upgrade: Upgrade) -> str:
        """The address the per-IP limit and the logs use (see :func:`client_ip`)."""
        header = self.options.forwarded_header
        return client_ip(_ip_of(upgrade.peer), upgrade.headers, self._proxies, header)

    def screen(self, upgrade: Upgrade) -> Refusal | None:
        """The checks that cost nothing and hold no state: Host, Origin, closing/draining."""
        opts = self.options
        hosts = upgrade.headers.get_all("Host")
        host = hosts[0] if len(hosts) == 1 else None
        via_proxy = bool(self._proxies) and _trusted(_address(_ip_of(upgrade.peer)), self._proxies)
        if len(hosts) > 1 or (
            not via_proxy and not host_allowed(host, _ip_of(upgrade.local), opts.allowed_hosts)
        ):
            log.info("rejected host %r", redact(", ".join(hosts)))
            return HOST_REFUSED
        origins = upgrade.headers.get_all("Origin")
        origin = origins[0] if len(origins) == 1 else None
        if len(origins) > 1 or not origin_allowed(origin, host, opts.allowed_origins):
            log.info("rejected origin %r", redact(", ".join(origins)))
            return ORIGIN_REFUSED
        broker = self.broker
        if broker.closing or broker.draining:
            return SHUTTING_DOWN
        return None

    def reserve(self, upgrade: Upgrade) -> Admission | Refusal:
        """:meth:`screen`, then a per-IP slot: the first half of :meth:`admit`, for a
        transport that must watch the connection while the ``authenticate`` hook runs."""
        refusal = self.screen(upgrade)
        if refusal is not None:
            return refusal
        ip = self.client_ip(upgrade)
        if not self.per_ip.acquire(ip):
            log.info("refused %s: more than %d connections", ip, self.per_ip.limit)
            return TOO_MANY
        return Admission(None, ip, self.per_ip)

    async def authenticate(self, upgrade: Upgrade, admission: Admission) -> Refusal | None:
        """The second half of :meth:`admit`: the ``authenticate`` hook's identity goes into
        ``admission``; refused, the slot is released and 401 is the answer."""
        if self.options.authenticate is None:
            return None
        identity = await self.identify(upgrade, admission.ip)
        if identity is None:
            admission.release()
            return UNAUTHENTICATED
        admission.identity = identity
        return None

    async def admit(self, upgrade: Upgrade) -> Admission | Refusal:
        """Every guard in order; an :class:`Admission` holds a per-IP slot the transport must
        :meth:`~Admission.release` when the connection ends (or its handshake fails)."""
        admission = self.reserve(upgrade)
        if isinstance(admission, Refusal):
            return admission
        refusal = await self.authenticate(upgrade, admission)
        return admission if refusal is None else refusal

    async def identify(self, upgrade: Upgrade, ip: str | None = None) -> Any:
        """The ``authenticate`` hook's identity, None when it refuses, raises or takes longer
        than ``handshake_timeout`` (None also when there is no hook)."""
        opts = self.options
        authenticate = opts.authenticate
        if authenticate is None:
            return None
        from .broker.options import HandshakeRequest

        request = HandshakeRequest(upgrade.path, upgrade.headers, upgrade.peer, upgrade.scope)
        who = ip if ip is not None else self.client_ip(upgrade)
        try:
            async with asyncio.timeout(opts.handshake_timeout or None):
                identity = authenticate(request)
                if inspect.isawaitable(identity):
                    identity = await identity
        except TimeoutError:
            log.info("authentication for %s took longer than %ss", who, opts.handshake_timeout)
            return None
        except Exception as exc:
            # the type only: applications put the offending token in exception messages
            log.info("authentication failed for %s: %s", who, type(exc).__name__)
            return None
        return identity
