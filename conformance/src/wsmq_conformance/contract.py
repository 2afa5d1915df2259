"""Contract tests of an application server against its catalogue (spec/catalogue.md §7, §9).

``wsmq-conformance --catalogue CAT URL`` registers these cases instead of the protocol suite's,
as schemathesis does for an OpenAPI document: hypothesis-jsonschema draws bodies from every
schema and hypothesis shrinks a failure to its minimal example. Per topic of the catalogue
(``C.<n>`` is the n-th topic, in catalogue order):

- ``C.n.1`` (client→server request, or client event): a valid body is answered with a response
  that validates against the response schema, or with a declared error code (§3.1 rule 4) or a
  standard code that does not disown the body. ``INVALID_BODY``, ``BAD_MESSAGE``, ``BAD_TOPIC``,
  ``NO_HANDLER``, ``HANDLER_ERROR`` and ``INTERNAL`` do: the server refused a valid body, serves
  no handler for a catalogued topic, or its handler crashed or broke its own response schema
  (§7 rule 4), the "server error" of schemathesis. A valid client event gets no error at all.
- ``C.n.2``: a *near miss* (a valid body with one member dropped, retyped, added or pushed out
  of range, checked invalid by jsonschema) is refused with ``INVALID_BODY`` whose details name
  ``pointer``, ``rule`` and the topic (§7 rules 2-3); for an event, as an error correlated to
  the event's ``messageID``; the connection stays open (§7 rule 5).
- ``C.n.3`` (server events, server→client requests): every one that arrived on any connection
  of the run validates against its schema; the suite answers server→client requests with a
  valid response (the schema's minimal instance). When none arrived by the end of the run the
  case provokes them once (every client request of the catalogue with its first example) and
  is UNIMPLEMENTED if still none comes: the catalogue says what may be sent, not when.
- ``C.9999.1`` (last): every server→client request arrived on a catalogued topic.

Verdicts, reports and exit codes are the protocol suite's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from .catalogue import Catalogue, Operation
from .context import Context
from .model import Case, CaseFailed, Level, Unimplemented, add_case
from .peer import Msg, Peer
from .vectors import find_vectors_dir

__all__ = ["CATALOGUE_SECTION", "ContractState", "near_misses", "register_contract_cases"]

CATALOGUE_SECTION = "catalogue §7, §9"
DISOWNING = frozenset(
    {"INVALID_BODY", "BAD_MESSAGE", "BAD_TOPIC", "NO_HANDLER", "HANDLER_ERROR", "INTERNAL"}
)
"""Standard codes that, as the answer to a *valid* body, are a contract failure."""
_FALLBACK_CODES = DISOWNING | {
    "FORBIDDEN", "UNAUTHENTICATED", "TIMEOUT", "CANCELLED", "TOO_LARGE", "RATE_LIMITED",
    "SHUTTING_DOWN", "DISCONNECTED", "UNKNOWN_CLIENT",
}  # fmt: skip
PROVOKE_WAIT = 2.0  # s a C.n.3 case waits for events after provoking them


def _standard_codes() -> frozenset[str]:
    d = find_vectors_dir()
    f = d.parent / "schema" / "error-codes.json" if d is not None else None
    if f is None or not f.is_file():
        return frozenset(_FALLBACK_CODES)
    return frozenset(json.loads(f.read_text(encoding="utf-8"))["enum"])


def _jsonschema_strategies() -> Callable[[dict[str, Any]], st.SearchStrategy[Any]]:
    """``hypothesis_jsonschema.from_schema``, made to run on current hypothesis.

    hypothesis-jsonschema 0.23.1 (its latest release) drives ``cu.many`` through ``more()``,
    which hypothesis 6.15x replaced by ``with many(...) as e: for _ in e``. ``more()`` below is
    the old protocol on top of the new one (enter on first call, exit when exhausted), added
    only when missing, so a hypothesis that still has it is left alone.
    """
    from hypothesis.internal.conjecture import utils as cu
    from hypothesis_jsonschema import from_schema

    if not hasattr(cu.many, "more"):

        def more(self: Any) -> bool:
            it = self.__dict__.get("_wsmq_iter")
            if it is None:
                self.__enter__()
                it = self.__dict__["_wsmq_iter"] = iter(self)
            try:
                next(it)
            except StopIteration:
                self.__exit__(None, None, None)
                return False
            return True

        cu.many.more = more  # type: ignore[attr-defined]
    return from_schema


# -- near misses ---------------------------------------------------------------------------

_WRONG: dict[str, Any] = {
    "string": 5,
    "integer": "1",
    "number": "1.5",
    "boolean": "true",
    "null": 0,
    "array": {},
    "object": [],
}


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return dict(root.get("$defs", {}).get(ref[8:], {}))
    return schema


def _out_of_range(schema: dict[str, Any]) -> list[tuple[str, Any]]:
    """Values just outside a scalar schema's bounds, with the keyword each one breaks."""
    out: list[tuple[str, Any]] = []
    if "minimum" in schema:
        out.append(("minimum", schema["minimum"] - 1))
    if "maximum" in schema:
        out.append(("maximum", schema["maximum"] + 1))
    if "minLength" in schema and schema["minLength"] > 0:
        out.append(("minLength", "x" * (schema["minLength"] - 1)))
    if "maxLength" in schema:
        out.append(("maxLength", "x" * (schema["maxLength"] + 1)))
    if "enum" in schema:
        out.append(("enum", "not-" + "-".join(map(str, schema["enum"]))[:60]))
    if "pattern" in schema:
        out.append(("pattern", " "))
    if schema.get("type") == "integer":
        out.append(("type", 1.5))
    return out


def _mutations(schema: dict[str, Any], body: Any, root: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every single-step near miss of ``body`` (a valid instance of ``schema``): (what, body)."""
    s = _resolve(schema, root)
    kind = str(s.get("type", ""))
    wrong = _WRONG.get(kind, 0)
    out: list[tuple[str, Any]] = [(f"the body as {type(wrong).__name__}", wrong)]
    if kind == "object" and isinstance(body, dict):
        props = s.get("properties", {})
        for name in s.get("required", []):
            if name in body:
                out.append((f"without {name!r}", {k: v for k, v in body.items() if k != name}))
        for name in body:
            ps = _resolve(props.get(name, {}), root)
            t = ps.get("type")
            if t in _WRONG:
                out.append((f"{name!r} as {type(_WRONG[t]).__name__}", body | {name: _WRONG[t]}))
            for rule, bad in _out_of_range(ps):
                out.append((f"{name!r} breaking {rule}", body | {name: bad}))
        if s.get("additionalProperties") is False:
            extra = next(f"unexpected{i}" for i in range(len(props) + 1) if f"unexpected{i}"
                         not in props)  # fmt: skip
            out.append((f"with an extra member {extra!r}", body | {extra: 1}))
    elif kind != "object":
        out += [(f"breaking {rule}", bad) for rule, bad in _out_of_range(s)]
    return out


def near_misses(catalogue: Catalogue, schema: dict[str, Any]) -> st.SearchStrategy[tuple[str, Any]]:
    """(what was changed, body): valid bodies drawn from ``schema``, then one near miss of each
    (which one is drawn too, so hypothesis shrinks both), kept only when jsonschema agrees that
    it breaks the schema."""
    from_schema = _jsonschema_strategies()

    @st.composite
    def draw(d: st.DrawFn) -> tuple[str, Any]:
        body = d(from_schema(schema))
        options = _mutations(schema, body, schema)
        pick: tuple[str, Any] = d(st.sampled_from(options))
        return pick

    return draw().filter(lambda wb: bool(catalogue.problems(schema, wb[1])))


def _params(op: Operation) -> st.SearchStrategy[dict[str, str]]:
    """Parameter values: one literal token each (§3.2 rule 3)."""
    token = st.from_regex(r"[a-z][a-z0-9_-]{0,11}", fullmatch=True)
    return st.fixed_dictionaries({p: token for p in op.params})


def _valid(op: Operation) -> st.SearchStrategy[tuple[str, Any]]:
    """(topic, body): a topic instance and a body drawn from the body schema."""
    from_schema = _jsonschema_strategies()
    return st.tuples(_params(op).map(op.instance), from_schema(op.body))


# -- the run-wide state: server events and server→client requests, on every connection -------


@dataclass
class Seen:
    """What arrived on one catalogued topic during the run."""

    count: int = 0
    problems: list[str] = field(default_factory=list)
    frames: list[tuple[str, str]] = field(default_factory=list)  # (peer, frame) of the bad ones


@dataclass
class ContractState:
    """Shared by the contract cases of one run: observations and the answers we give."""

    catalogue: Catalogue
    codes: frozenset[str] = field(default_factory=_standard_codes)
    seen: dict[str, Seen] = field(default_factory=dict)
    uncatalogued: list[str] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)  # server→client topic -> our response
    watcher: Peer | None = None
    provoked: bool = False
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def observe(self, peer: Peer, msg: Msg) -> bool:
        """``Peer.on_message``: judge server events and answer server→client requests."""
        topic = msg.topic if isinstance(msg.topic, str) else ""
        if topic.startswith("_"):
            return False
        if msg.type == "event":
            op = self.catalogue.operation_for(topic, "event")
            if op is not None and op.sender in ("server", "any"):
                self._judge(op, msg, "event", peer)
            return False  # cases may wait for it too
        if msg.type != "request":
            return False
        op = self.catalogue.operation_for(topic, "request")
        if op is None or op.sender != "server":
            self.uncatalogued.append(f"{peer.name}: request on {topic!r}: {msg.short()}")
            self._send(peer, Peer.envelope("error", msg.corr, _error("NO_HANDLER"), corr=msg.corr))
            return True
        if self._judge(op, msg, "request", peer):
            reply = Peer.envelope("response", msg.corr, self.answers.get(op.topic), corr=msg.corr)
        else:
            reply = Peer.envelope("error", msg.corr, _error("INVALID_BODY"), corr=msg.corr)
        self._send(peer, reply)
        return True

    def _judge(self, op: Operation, msg: Msg, what: str, peer: Peer) -> bool:
        seen = self.seen.setdefault(op.topic, Seen())
        seen.count += 1
        problems = self.catalogue.problems(op.body, msg.body)
        if problems:
            seen.problems.append(f"{what} {msg.short()}: {'; '.join(problems[:3])}")
            if len(seen.frames) < 20:
                seen.frames.append((peer.name, msg.raw))
        return not problems

    def _send(self, peer: Peer, env: dict[str, Any]) -> None:
        if isinstance(env["header"].get("topic"), str):
            task = asyncio.get_running_loop().create_task(_quiet(peer.send(env)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def peer(self, ctx: Context, name: str) -> Peer:
        """A registered connection whose server requests and events are observed."""
        await self.start(ctx)
        p = await ctx.peer(name)
        p.on_message = self.observe
        p.inbox = [m for m in p.inbox if not self.observe(p, m)]
        return p

    async def start(self, ctx: Context) -> None:
        """First contract case: the minimal answers to server requests, and a watcher
        connection subscribed to every server event topic for the whole run."""
        if not self.answers:
            from_schema = _jsonschema_strategies()
            for op in self.catalogue:
                if op.kind == "request" and op.sender == "server" and op.response is not None:
                    self.answers[op.topic] = await asyncio.to_thread(
                        _minimal, from_schema(op.response)
                    )
        patterns = {op.pattern for op in self.catalogue
                    if op.kind == "event" and op.sender in ("server", "any")}  # fmt: skip
        if self.watcher is None and patterns and ctx.caps.subscribe:
            w = await Peer.open(ctx.url, name="watcher", log=ctx.log, caps=ctx.caps)
            await w.register(None)
            w.on_message = self.observe
            for pattern in sorted(patterns):
                await w.subscribe(pattern)
            self.watcher = w

    async def stop(self) -> None:
        if self.watcher is not None:
            await self.watcher.close()
            self.watcher = None


def _minimal(strategy: st.SearchStrategy[Any]) -> Any:
    from hypothesis import find, settings

    return find(strategy, lambda _: True, settings=settings(database=None, max_examples=200))


def _error(code: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": f"wsmq-conformance contract client: {code}"}}


async def _quiet(aw: Awaitable[None]) -> None:
    with contextlib.suppress(Exception):
        await aw


# -- the cases -------------------------------------------------------------------------------


class _Conn:
    """The observed connection a property's examples share, reopened if the server closed it
    (a failing example may have; the next one must still be judged)."""

    def __init__(self, state: ContractState, ctx: Context) -> None:
        self.state, self.ctx = state, ctx
        self.peer: Peer | None = None

    async def get(self) -> Peer:
        if self.peer is None or self.peer.is_closed:
            self.peer = await self.state.peer(self.ctx, "A")
        return self.peer


def _explicit(op: Operation) -> list[tuple[str, Any]]:
    """The catalogue's examples (§3.3: they seed the contract tests), on a topic instance."""
    return [(op.instance(dict.fromkeys(op.params, "p1")), e) for e in op.examples]


def _answer_problem(state: ContractState, op: Operation, m: Msg) -> str | None:
    if m.type == "response":
        assert op.response is not None
        problems = state.catalogue.problems(op.response, m.body)
        if problems:
            return f"the response breaks the response schema: {'; '.join(problems[:3])}"
        return None
    code = m.error_code
    if code in DISOWNING:
        return f"a valid body was answered {code}: {m.short()}"
    if code not in op.errors and code not in state.codes:
        declared = ", ".join(op.errors) or "none"
        return f"undeclared error code {code!r} (declared: {declared}): {m.short()}"
    return None


def _request_cases(state: ContractState, op: Operation, n: int) -> list[Case]:
    async def valid(ctx: Context) -> None:
        conn = _Conn(state, ctx)

        async def check(x: tuple[str, Any]) -> None:
            topic, body = x
            m = await (await conn.get()).request(topic, body)
            problem = _answer_problem(state, op, m)
            if problem:
                raise CaseFailed(f"{topic}: {problem}")

        await ctx.given(_valid(op), check, explicit=_explicit(op))

    async def near(ctx: Context) -> None:
        await _given_near_misses(state, op, ctx, Peer.request, ping_after=True)

    return [
        _case(op, n, 1, "answers valid requests with a valid response or a declared error", valid),
        _case(op, n, 2, "refuses near-miss requests with INVALID_BODY before any handler", near),
    ]


def _expect_invalid_body(m: Msg, topic: str, what: str) -> None:
    if m.error_code != "INVALID_BODY":
        raise CaseFailed(f"{topic}, body {what}: expected INVALID_BODY, got {m.short()}")
    details = m.body["error"].get("details")
    if not (
        isinstance(details, dict)
        and isinstance(details.get("pointer"), str)
        and isinstance(details.get("rule"), str)
        and details.get("topic") == topic
    ):
        raise CaseFailed(
            f"{topic}, body {what}: INVALID_BODY details must be "
            f"{{pointer, rule, topic: {topic!r}}} (catalogue §7 rule 2): {m.short()}"
        )


async def _given_near_misses(
    state: ContractState,
    op: Operation,
    ctx: Context,
    send: Callable[[Peer, str, Any], Awaitable[Msg]],
    *,
    ping_after: bool,
) -> None:
    """C.n.2 for requests and client events alike: every near-miss body on a topic instance,
    sent with ``send`` (which returns what the server answered), must be refused with
    ``INVALID_BODY`` and its details (catalogue §7 rules 2-3); with ``ping_after`` the
    connection must then still answer a ping (§7 rule 5)."""
    conn = _Conn(state, ctx)
    topics = _params(op).map(op.instance)

    async def check(x: tuple[str, tuple[str, Any]]) -> None:
        topic, (what, body) = x
        m = await send(await conn.get(), topic, body)
        _expect_invalid_body(m, topic, what)
        if ping_after:
            await (await conn.get()).ping()

    await ctx.given(st.tuples(topics, near_misses(state.catalogue, op.body)), check)


async def _event_report(p: Peer, topic: str, body: Any) -> Msg:
    """Publish a client event; its refusal is an error correlated to its ``messageID``
    (catalogue §7 rule 3)."""
    mid = await p.publish(topic, body)
    return await p.expect(
        lambda m: m.type == "error" and m.corr == mid,
        f"the INVALID_BODY report of event {mid} (catalogue §7 rule 3)",
    )


def _client_event_cases(state: ContractState, op: Operation, n: int) -> list[Case]:
    async def valid(ctx: Context) -> None:
        conn = _Conn(state, ctx)

        async def check(x: tuple[str, Any]) -> None:
            topic, body = x
            p = await conn.get()
            mid = await p.publish(topic, body)
            await p.ping()  # the server has processed the event
            errors = p.take(lambda m: m.type == "error" and m.corr == mid)
            if errors:
                raise CaseFailed(f"{topic}: a valid event was answered {errors[0].short()}")

        await ctx.given(_valid(op), check, explicit=_explicit(op))

    async def near(ctx: Context) -> None:
        await _given_near_misses(state, op, ctx, _event_report, ping_after=False)

    return [
        _case(op, n, 1, "accepts valid events without an error", valid),
        _case(op, n, 2, "reports near-miss events with INVALID_BODY (correlated)", near),
    ]


def _observed_case(state: ContractState, op: Operation, n: int) -> Case:
    what = "events" if op.kind == "event" else "server→client requests"

    async def observed(ctx: Context) -> None:
        await state.start(ctx)
        if op.kind == "event" and state.watcher is None:
            (await ctx.peer("subscriber")).need("subscribe")  # UNIMPLEMENTED without it
        if not state.seen.get(op.topic):
            await _provoke(state, ctx)
        seen = state.seen.get(op.topic, Seen())
        for name, frame in seen.frames:  # into the report: they arrived on other connections
            ctx.transcript.record(name, "received", frame)
        if seen.problems:
            raise CaseFailed(
                f"{len(seen.problems)} of {seen.count} {what} on {op.topic} break the schema; "
                f"first: {seen.problems[0]}"
            )
        if not seen.count:
            raise Unimplemented(
                f"no {what} on {op.topic} arrived during the run (not even after every client "
                "request of the catalogue was sent once)"
            )

    return _case(op, n, 3, f"{what} the server sends match the schema", observed, final=True)


async def _provoke(state: ContractState, ctx: Context) -> None:
    """Once per run: send every client→server request once (first example, else the minimal
    body), answer what comes back, and give the server PROVOKE_WAIT seconds to publish."""
    if state.provoked:
        return
    state.provoked = True
    from_schema = _jsonschema_strategies()
    p = await state.peer(ctx, "provoke")
    for op in state.catalogue:
        if op.kind == "request" and op.sender == "client":
            body = op.examples[0] if op.examples else await asyncio.to_thread(
                _minimal, from_schema(op.body)
            )  # fmt: skip
            with contextlib.suppress(CaseFailed):
                await p.request(op.instance(dict.fromkeys(op.params, "p1")), body)
    await asyncio.sleep(PROVOKE_WAIT)  # events are asynchronous by nature: a bounded wait


def _case(
    op: Operation,
    n: int,
    k: int,
    text: str,
    fn: Callable[[Context], Awaitable[None]],
    *,
    final: bool = False,
) -> Case:
    return Case(
        id=f"C.{n}.{k}",
        description=f"{op.topic}: {text}",
        section=f"{CATALOGUE_SECTION} ({op.kind} from {op.sender})",
        level=Level.MUST,
        fn=fn,
        timeout=60.0,
        final=final,
    )


def register_contract_cases(catalogue: Catalogue) -> ContractState:
    """Register the contract cases of ``catalogue`` (IDs ``C.*``); returns the run's state,
    whose :meth:`ContractState.stop` closes the watcher after the run."""
    state = ContractState(catalogue)

    async def catalogued(ctx: Context) -> None:
        await state.start(ctx)
        await _provoke(state, ctx)
        if state.uncatalogued:
            raise CaseFailed(
                f"{len(state.uncatalogued)} server→client requests on topics the catalogue does "
                f"not declare; first: {state.uncatalogued[0]}"
            )

    cases = [
        Case(
            id="C.9999.1",  # the last final case: after every C.n.3 has provoked the server
            description="server→client requests arrive only on catalogued topics",
            section=CATALOGUE_SECTION,
            level=Level.MUST,
            fn=catalogued,
            final=True,
        )
    ]
    for n, op in enumerate(catalogue, 1):
        if op.kind == "request" and op.sender == "client":
            cases += _request_cases(state, op, n)
        if op.kind == "event" and op.sender in ("client", "any"):
            cases += _client_event_cases(state, op, n)
        if op.sender in ("server", "any"):
            cases.append(_observed_case(state, op, n))
    for c in cases:
        add_case(c)
    return state
