# ruff: noqa: E501 - a table of source snippets: each mutant reads best on its own lines
"""The mutants of the reference broker that ``make mutation`` runs the conformance suite against.

Each mutant is one small source change that breaks one rule of spec/protocol.md a client can
observe, written as (file, search text, replacement) so that re-targeting it after a refactor
moves one string, not a patch. ``control`` mutants change code without changing behaviour:
the suite must pass them (no false alarm). ``reach`` names why a mutant is out of the suite's
reach by design (it is then listed, not scored).

Files are relative to ``python/src/websocketmq``; the search text must occur exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MUTANTS", "Mutant"]


@dataclass(frozen=True)
class Mutant:
    id: str
    section: str
    file: str
    search: str
    replace: str
    what: str
    control: bool = False
    reach: str | None = None  # set: out of reach by design, with the reason
    also: tuple[tuple[str, str, str], ...] = ()
    """More (file, search, replacement) edits, for a rule the broker enforces in two places."""


S = "protocol/session.py"
E = "protocol/envelope.py"
T = "protocol/topics.py"
C = "broker/connection.py"
R = "broker/router.py"
H = "broker/handlers.py"
G = "broker/registry.py"
L = "limits.py"
V = "server.py"
F = "fixture.py"
M = "models.py"  # generated from the schemas: a mutant here breaks the schema the broker decodes with
B = "protocol/bodies.py"

ROUTER_RESERVED = (
    R,
    "        if not is_reserved(topic):\n            targets =",
    "        if True:\n            targets =",
)
"""The router's own guard: no client ever gets a reserved topic's event (spec §5.2, §5.3)."""

MUTANTS: list[Mutant] = [
    # -- §2 transport ----------------------------------------------------------------------
    Mutant("m-subproto", "§2.1", V, 'SUBPROTOCOL = "wsmq.v1"', 'SUBPROTOCOL = "wsmq.v2"',
           "selects a wrong subprotocol"),
    Mutant("m-binary-ok", "§2.2 item 2", S,
           'bad = BadMessage("binary frames are not allowed; send JSON text", None, None)\n'
           "            return [Send(self._fault(bad))]",
           "return []", "binary frames are dropped silently"),
    # -- §3 envelope ---------------------------------------------------------------------------
    Mutant("m-ttl-zero", "§3.2", E, "not 0 < ttl <= _MAX_INT", "not 0 <= ttl <= _MAX_INT",
           "ttl 0 accepted"),
    Mutant("m-ttl-bool", "§3.2", E, "type(ttl) is not int", "not isinstance(ttl, int)",
           "a boolean ttl accepted (bool is an int in Python)"),
    Mutant("m-corr-long", "§3.2", E, "if type(corr) is not str or not 0 < len(corr) <= MAX_ID_LENGTH:",
           "if type(corr) is not str or not 0 < len(corr) <= 1000:", "a 129-character correlationID accepted"),
    Mutant("m-mid-long", "§3.2", M, "description='Sender-unique message identifier (section 3.2).',\n        max_length=128,",
           "description='Sender-unique message identifier (section 3.2).',\n        max_length=4096,",
           "a 129-character messageID accepted"),
    Mutant("m-ts-negative", "§3.2", M, "description='Integer milliseconds since the Unix epoch; informational only (section 3.2).',\n        ge=0,",
           "description='Integer milliseconds since the Unix epoch; informational only (section 3.2).',", "a negative timestamp accepted"),
    Mutant("m-error-body", "§3.5, §11.1", E, 'if kind == "error" and not _is_error_body(wire.body):',
           "if False:", "an error without an error body accepted as an answer"),
    Mutant("m-answer-answered", "§3.5 item 3", E, "raise _bad(text, corr, False)",
           "raise _bad(text, corr, True)",
           "an invalid error answer is answered with BAD_MESSAGE (an error loop)"),
    Mutant("m-bad-corr-ref", "§3.5 item 2", E,
           'f"correlationID (1-128 characters) is required on a {kind}", h.message_id, answer',
           'f"correlationID (1-128 characters) is required on a {kind}", None, answer',
           "the error about a request without correlationID is not correlated to its messageID"),
    Mutant("m-readable-ids", "§3.5 item 2", E,
           "    return str(mid) if _readable_id(mid) else None",
           "    return None",
           "an undecodable frame's readable messageID is not used as correlation"),
    Mutant("m-source-kept", "§3.2 source", S, "        header.source = self.client_id\n        return Publish(msg)",
           "        header.source = header.source or self.client_id\n        return Publish(msg)",
           "a client-supplied source on a publish is kept"),
    Mutant("m-source-req", "§3.2 source", S, "        header.source = self.client_id\n        return Request(msg)",
           "        header.source = header.source or self.client_id\n        return Request(msg)",
           "a client-supplied source on a request is kept"),
    Mutant("m-body-null", "§3.3", E, "    body: Any = None\n\n\nclass Message", "    body: Any = 0\n\n\nclass Message",
           "an absent body reads as 0"),
    # -- §4 message types ----------------------------------------------------------------------
    Mutant("m-publish-acked", "§4.1 item 1", S, "        header.source = self.client_id\n        return Publish(msg)",
           "        header.source = self.client_id\n        raise WsmqError('OK_NOTED', 'published', None, header.message_id)",
           "a publish is acknowledged (with an error envelope) and not delivered"),
    Mutant("m-resp-topic", "§4.3 item 1", E, "            type=\"response\",\n            topic=corr,",
           "            type=\"response\",\n            topic=\"response\",",
           "a response's topic is not its correlationID"),
    # -- §5 topics -----------------------------------------------------------------------------
    Mutant("m-topic-bytes", "§5.1 item 2", T, "    if size > MAX_TOPIC_BYTES:", "    if size > 1024:",
           "topics over 255 bytes accepted"),
    Mutant("m-topic-chars", "§5.1 item 2", T, "        size = len(topic.encode())", "        size = len(topic)",
           "topic length counted in characters, not UTF-8 bytes"),
    Mutant("m-topic-tokens", "§5.1 item 2", T, 'if topic.count(".") >= MAX_TOPIC_TOKENS:', 'if topic.count(".") >= 64:',
           "33-token topics accepted"),
    Mutant("m-topic-tokens-off", "§5.1 item 2", T, 'if topic.count(".") >= MAX_TOPIC_TOKENS:',
           'if topic.count(".") >= MAX_TOPIC_TOKENS - 1:', "32-token topics refused"),
    Mutant("m-topic-space", "§5.1 item 1", "protocol/rules.py", 'TOKEN_RE: Final = r"[^\\u0000-\\u0020',
           'TOKEN_RE: Final = r"[^\\u0000-\\u001f', "a space allowed in topic tokens"),
    Mutant("m-topic-wild-pub", "§5.1 item 4", T, '_LITERAL_RE = re.compile(rf"{TOKEN_RE}(?:\\.{TOKEN_RE})*")',
           '_LITERAL_RE = re.compile(rf"(?:{TOKEN_RE}|\\*)(?:\\.(?:{TOKEN_RE}|\\*))*")',
           "a '*' publish topic accepted"),
    Mutant("m-pattern-gt-mid", "§5.2", T, '_PATTERN_RE = re.compile(rf"(?:{TOKEN_RE}|\\*)(?:\\.(?:{TOKEN_RE}|\\*))*(?:\\.>)?|>")',
           '_PATTERN_RE = re.compile(rf"(?:{TOKEN_RE}|\\*|>)(?:\\.(?:{TOKEN_RE}|\\*|>))*")',
           "'>' accepted in the middle of a pattern"),
    Mutant("m-gt-zero", "§5.2", T, "        if node.tail and i < len(tokens):", "        if node.tail and i <= len(tokens):",
           "'a.>' matches 'a'"),
    Mutant("m-star-any", "§5.2", T, "            self._walk(star, tokens, i + 1, found)",
           "            self._walk(star, tokens, i + 1, found)\n            self._walk(star, tokens, i + 2, found) if i + 2 <= len(tokens) else None",
           "'*' also matches two tokens"),
    Mutant("m-wild-reserved", "§5.2", T, '        if topic.startswith("_"):  # spec §5.2',
           '        if False:  # spec §5.2', "'>' subscribers see reserved topics", also=(ROUTER_RESERVED,)),
    Mutant("m-echo-reserved", "§5.2", T, '    if pt[0] in ("*", ">") and topic.startswith("_"):',
           '    if False:', "an echo '>' subscription matches reserved topics", also=(ROUTER_RESERVED,),
           reach="matches() decides only whether a client's own publish is echoed, and a client cannot publish a reserved topic (FORBIDDEN, §5.3): equivalent from outside"),
    Mutant("m-reserved-pub", "§5.3 item 3", S,
           '            raise Forbidden(f"clients may not publish on {topic!r}", None, header.message_id)',
           '            pass', "clients may publish on reserved topics"),
    Mutant("m-reserved-sub", "§5.3 item 3", S,
           '            raise Forbidden(f"clients may not subscribe to {body.topic!r}", None, corr)',
           '            pass', "clients may subscribe to reserved patterns"),
    Mutant("m-reserved-req", "§5.3 item 3", S,
           '            raise Forbidden(f"clients may not send requests on {topic!r}", None, corr)',
           '            raise WsmqError("NO_HANDLER", f"no handler for {topic!r}", None, corr)',
           "a reserved request topic gets NO_HANDLER, not FORBIDDEN"),
    Mutant("m-case-fold", "§5.1 item 3", T, "        tok = tokens[i]\n", "        tok = tokens[i].lower()\n",
           "topics matched case-insensitively"),
    # -- §6 registration -----------------------------------------------------------------------
    Mutant("m-ack-status", "§6.2 item 2", S, 'status="registered",', 'status="ok",', "ack status wrong"),
    Mutant("m-ack-protocol", "§6.2 item 2", S, 'protocol="wsmq/1",', 'protocol="wsmq/0",', "ack protocol wrong"),
    Mutant("m-ack-page", "§6.2 item 2", S, '            ack["pageSessionID"] = self.page_session_id',
           "            pass", "pageSessionID not echoed"),
    Mutant("m-ack-corr", "§6.2 item 2", S, "            ack_msg.header.correlation_id = msg.header.message_id",
           "            pass", "ack not correlated to the register",
           reach="a SHOULD (§6.2 item 2), judged by case 1.1.6 in the full profile; the harness runs the core profile, whose exit status counts MUST failures only"),
    Mutant("m-ack-max", "§6.2 item 2", S, "maxMessageSize=self.config.max_message_size,",
           "maxMessageSize=self.config.max_message_size * 2,", "maxMessageSize advertised wrong"),
    Mutant("m-ping-units", "§6.2 item 2, §9", S, "pingInterval=self.config.ping_interval_ms,",
           "pingInterval=self.config.ping_interval_ms // 1000,", "pingInterval in seconds, not ms",
           reach="the spec sets no range for pingInterval; its unit shows only by waiting a whole interval (reference 20 s) for the broker's WebSocket ping, a SHOULD (§9 item 1)"),
    Mutant("m-already-reg", "§6.2 item 3", S, '            err = AlreadyRegistered(\n                "this connection is already registered", None, header.message_id\n            )\n            return [Send(self._fault(err))]',
           '            return []', "a second register is ignored silently"),
    Mutant("m-reg-bad-body", "§6.2 item 4", S, "                return [Send(self._fault(err))]  # stays OPEN (spec §6.2), charged",
           "                body = read_register(None, None)", "an invalid RegisterBody registers"),
    Mutant("m-reg-null", "§6.2 item 1", B, "{} if body is None else body", "body", "a null register body is refused"),
    Mutant("m-implicit-order", "§6.3", S, "            actions = self._register(None)", "            actions = []",
           "no ack on implicit registration"),
    Mutant("m-resume-any", "§6.4 item 4", S, "                and verify_token(\n                    self.config.resume_secret,",
           "                and len(token) > 0 and (lambda *a: True)(\n                    self.config.resume_secret,", "any token resumes"),
    Mutant("m-resume-expired", "§6.4 item 4", "protocol/tokens.py", "    if expiry < now or (lifetime",
           "    if False and (lifetime", "expired tokens resume"),
    Mutant("m-resume-flag", "§6.4 item 3", S, "                resumed = True", "                resumed = False",
           "a resume says resumed: false"),
    Mutant("m-supersede-code", "§6.4 item 3, §12.2", G, '            old.abort(4009, "superseded")',
           '            old.abort(1000, "superseded")', "superseded connection closed 1000, not 4009"),
    Mutant("m-supersede-none", "§6.4 item 3", G, '            old.abort(4009, "superseded")\n            self._teardown(old)\n            await',
           '            await', "the superseded connection stays open"),
    Mutant("m-ids-predictable", "§6.1", S, "        ack: dict[str, Any] = {\"brokerClientID\": self.client_id}",
           "        ack: dict[str, Any] = {\"brokerClientID\": self.client_id + \".x\"}",
           "client IDs not one topic token"),
    Mutant("m-presence-resumed", "§6.5 item 1", G, '            body["resumed"] = True', "            pass",
           "presence event lacks resumed: true"),
    Mutant("m-presence-reason", "§6.5 item 2", G, '            await self._deregistered_event(old, "superseded")',
           '            await self._deregistered_event(old, "closed")', "superseded deregistration says closed"),
    # -- §7 pub/sub ----------------------------------------------------------------------------
    Mutant("m-echo-default", "§7.4 item 2", R, "if conn.session.client_id == source and not conn.wants_echo(topic):",
           "if False:", "publishes echoed to the sender by default"),
    Mutant("m-echo-never", "§7.1 item 3", C, "        return bool(self._echo) and any(matches(p, topic) for p in self._echo)",
           "        return False", "echo: true ignored"),
    Mutant("m-echo-sticky", "§7.1 item 2", C, "        else:\n            self._echo.discard(pattern)\n        return new",
           "        return new", "re-subscribing with echo false keeps echo"),
    Mutant("m-echo-any-sub", "§7.4 items 1-2", C, "        return bool(self._echo) and any(matches(p, topic) for p in self._echo)",
           "        return bool(self._echo)", "one echo subscription echoes every topic"),
    Mutant("m-echo-nonbool", "§7.1, §10", M, "    echo: (\n        Annotated[\n            bool,\n            Meta(\n                description=\"Also deliver this client's own publishes (default false).\"",
           "    echo: (\n        Annotated[\n            Any,\n            Meta(\n                description=\"Also deliver this client's own publishes (default false).\"", "a non-boolean echo accepted"),
    Mutant("m-sub-bad-body", "§7.1 item 1, §10", B, '        raise BadMessage(f"{what}: {exc}", None, correlation_id) from None\n    _check_pattern(',
           '        raise BadTopic(f"{what}: {exc}", None, correlation_id) from None\n    _check_pattern(', "a body without topic gets BAD_TOPIC"),
    Mutant("m-sub-answer", "§7.1", R, '{"topic": pattern, "subscribed": True}', '{"topic": pattern, "subscribed": 1}',
           "subscribe answers subscribed: 1"),
    Mutant("m-unsub-true", "§7.2", R, '        body = {"topic": pattern, "unsubscribed": had}',
           '        body = {"topic": pattern, "unsubscribed": True}', "unsubscribe always says true"),
    Mutant("m-unsub-noop", "§7.2", R, "        had = self._registry.unsubscribe(conn, pattern)",
           "        had = pattern in conn.subscriptions", "unsubscribe does not remove"),
    Mutant("m-dup-delivery", "§7.4 item 1", R, "                    conn.deliver(frame)\n                    delivered += 1",
           "                    conn.deliver(frame)\n                    if len(conn.subscriptions) > 1:\n                        conn.deliver(frame)\n                    delivered += 1",
           "a connection with several matching subscriptions gets duplicates"),
    Mutant("m-server-source", "§7.3", F, "            await broker.publish(topic, out)",
           "            await broker.publish(topic, {**out, 'x': 1} if isinstance(out, dict) else out)",
           "server publishes alter the body (fixture)"),
    Mutant("m-sub-drop-first", "§7.4", R, "        conn.send(ServerSession.respond(action.message, {\"topic\": pattern, \"subscribed\": True}))",
           "        conn.send(ServerSession.respond(action.message, {\"topic\": pattern, \"subscribed\": True}))\n        if pattern.endswith('.>'):\n            self._registry.unsubscribe(conn, pattern)",
           "'>' subscriptions are answered but not active"),
    # -- §8 RPC --------------------------------------------------------------------------------
    Mutant("m-no-handler-code", "§8.5", H, 'return new_error(msg.header.correlation_id, NoHandler(f"no handler for {topic!r}"))',
           'return new_error(msg.header.correlation_id, WsmqError("NOT_FOUND", "no handler"))', "NO_HANDLER spelled otherwise"),
    Mutant("m-handler-error", "§8.3 item 2, §11.3", H, '            err = HandlerError(f"handler for {topic!r} failed")',
           '            err = WsmqError("INTERNAL", f"handler for {topic!r} failed")',
           "an exception without a code answers INTERNAL"),
    Mutant("m-app-code", "§11.3", H, "        if isinstance(exc, WsmqError) and valid_code(exc.code):",
           "        if isinstance(exc, WsmqError) and valid_code(exc.code) and len(exc.code) < 12:",
           "long application codes become HANDLER_ERROR"),
    Mutant("m-timeout-code", "§8.2 item 2", H, "            err = RequestTimeout(f\"handler for {topic!r} took longer than {ttl:g} s\")",
           "            err = WsmqError(\"DEADLINE\", f\"handler for {topic!r} took longer than {ttl:g} s\")",
           "a timed-out request answers DEADLINE"),
    Mutant("m-ttl-ignored", "§8.2 item 2", S, "        if ttl is None:\n            header.ttl = self.config.default_ttl_ms",
           "        if True:\n            header.ttl = self.config.default_ttl_ms", "the client's ttl is ignored"),
    Mutant("m-ttl-no-clamp", "§8.2 item 1", S, "            header.ttl = self.config.max_ttl_ms",
           "            raise BadMessage('ttl too large', None, corr)", "a ttl above the maximum is rejected"),
    Mutant("m-ttl-timestamp", "§8.2 item 5", S, "        ttl = header.ttl\n        if ttl is None:",
           "        if header.ttl is not None:\n            header.ttl = max(1, header.ttl - max(0, now_ms() - header.timestamp))\n        ttl = header.ttl\n        if ttl is None:",
           "ttl shortened by the request's timestamp"),
    Mutant("m-cancel-ignored", "§8.8 item 1", C, '                case CancelRequest(correlation_id=corr):\n                    self.cancel_request(corr, "CANCELLED")',
           "                case CancelRequest(correlation_id=corr):\n                    pass", "_client.cancel ignored"),
    Mutant("m-cancel-answers", "§8.8 item 1", R, "            return  # _client.cancel or disconnect: no answer",
           "            conn.send(ServerSession.fail(msg, WsmqError('CANCELLED', 'cancelled')))\n            return",
           "a cancelled request is answered CANCELLED"),
    Mutant("m-corr-lost", "§8.1 item 2", E, "    corr = request.header.correlation_id or request.header.message_id\n",
           "    corr = request.header.message_id\n", "responses carry the messageID, not the correlationID"),
    Mutant("m-unknown-corr", "§8.7 item 2", S, "        err = UnknownCorrelation(\n            f\"no request with correlationID {corr!r} was sent to you\", None, msg.header.message_id\n        )\n        return Send(self._fault(err))",
           "        return None",
           "answers to unknown correlations dropped silently"),
    Mutant("m-late-reported", "§8.7 item 1", S, "        if why is Lookup.LATE:\n            return None",
           "        if why is Lookup.LATE:\n            why = Lookup.UNKNOWN", "late answers get UNKNOWN_CORRELATION"),
    Mutant("m-wrong-conn", "§8.4 item 4", C, "                case Answer(waiter=waiter, message=msg):\n                    if not waiter.done():\n                        waiter.set_result(msg)",
           "                case Answer(waiter=waiter, message=msg):\n                    if not waiter.done():\n                        waiter.set_result(msg)\n                        self.session.pending.add(msg.header.correlation_id or '', waiter)",
           "an answered correlation stays pending: the duplicate is taken as an answer",
           reach="equivalent from outside: the duplicate meets a settled waiter and is dropped silently, as a LATE one is (§8.7 item 1)"),
    Mutant("m-s2c-timeout-cancel", "§8.8 item 2", C, '            cancel = self.session.give_up(corr, "TIMEOUT")\n            if cancel is not None:\n                self.send(cancel)',
           '            cancel = self.session.give_up(corr, "TIMEOUT")', "no _internal.cancel after a server-side timeout"),
    Mutant("m-disconnect-wait", "§8.9 item 1", C, '                waiter.set_exception(Disconnected(f"client {self.client_id} disconnected"))',
           "                pass", "pending server→client requests wait out their timeout on disconnect"),
    Mutant("m-inflight-cap", "§12.1", R, "if conn.requests_in_flight >= self._options.max_pending_requests_per_connection:",
           "if conn.requests_in_flight >= self._options.max_pending_requests_per_connection * 100:",
           "no in-flight request cap"),
    Mutant("m-dup-corr", "§8.1 item 1", R, "        if conn.has_request(corr):", "        if False:",
           "a reused pending correlationID is accepted",
           reach="§8.1 item 1 puts the uniqueness MUST on the requester and says nothing of what a broker does with a duplicate: the reference's BAD_MESSAGE is its own choice, not a rule a suite may hold other servers to"),
    # -- §9 keepalive --------------------------------------------------------------------------
    Mutant("m-pong-seconds", "§9 item 2", S, '{"timestamp": now_ms()}', '{"timestamp": now_ms() // 1000}',
           "pong timestamp in seconds"),
    Mutant("m-ping-forbidden", "§9", S, '            if topic == "_client.ping":', '            if topic == "_client.pings":',
           "_client.ping refused"),
    # -- §12 limits ----------------------------------------------------------------------------
    Mutant("m-size-close", "§12.1, §12.2", S, 'Close(1009, "message too big")', 'Close(1008, "message too big")',
           "oversize frames close 1008"),
    Mutant("m-size-chars", "§12.1", S, "        if size > limit // 4 and isinstance(frame, str):",
           "        if False:", "frame size counted in characters, not UTF-8 bytes"),
    Mutant("m-size-no-error", "§12.1", S, "            return [Send(too_large_frame(text)), Close(1009, \"message too big\")]",
           "            return [Close(1009, \"message too big\")]", "no TOO_LARGE before the 1009 close",
           also=((V, "                protocol.send_text(too_large_frame(text))", "                pass"),)),
    Mutant("m-depth", "§12.1", L, "    return json_depth(text) > max_depth\n", "    return False\n",
           "no JSON depth limit (msgspec's own limit answers)",
           reach="equivalent from outside: msgspec's decoder has a nesting limit of its own and the frame still gets BAD_MESSAGE with the connection open (§12.1 fixes no depth, only that a limit exists)"),
    Mutant("m-rate", "§12.1", L, "        return not self._bucket.take(now)", "        return False",
           "no message-rate limit"),
    Mutant("m-budget", "§12.1", L, "        return self._budget.record(now)", "        return True",
           "no protocol-error budget"),
    Mutant("m-budget-close", "§12.1, §12.2", S, 'Close(4029, "too many errors")', 'Close(1000, "too many errors")',
           "error budget closes 1000"),
    # -- §14 fixture ---------------------------------------------------------------------------
    Mutant("m-fixture-fail-code", "§14", F, '            code = "HANDLER_ERROR"', '            code = "FAILED"',
           "conformance.fail without a code answers FAILED"),
    # -- controls: behaviour-preserving ------------------------------------------------------
    Mutant("c-rename-local", "§7.4", R, "        pattern = action.pattern\n        had =", "        pat = action.pattern\n        pattern = pat\n        had =",
           "rename a local", control=True),
    Mutant("c-cache-size", "§5.2", T, "    def __init__(self, cache_size: int = 4096) -> None:",
           "    def __init__(self, cache_size: int = 64) -> None:", "smaller match cache", control=True),
    Mutant("c-remember", "§8.7", "protocol/rpc.py", "    def __init__(self, remember: int = 1024) -> None:",
           "    def __init__(self, remember: int = 2048) -> None:", "remember more settled IDs", control=True),
    Mutant("c-yield", "§7.4", R, "        if self._publish_count & 7 == 0:", "        if self._publish_count & 3 == 0:",
           "yield to writers more often", control=True),
    Mutant("c-fast-path", "§12.1", L, '        if text.count("[") + text.count("{") <= max_depth:',
           '        if text.count("[") + text.count("{") <= max_depth // 2:', "depth fast path narrower", control=True),
    Mutant("c-ping-dict", "§9", S, '{"timestamp": now_ms()}', 'dict(timestamp=now_ms())',
           "same pong, built differently", control=True),
    Mutant("c-size-threshold", "§12.1", S, "        if size > limit // 4 and isinstance(frame, str):",
           "        if size > limit // 8 and isinstance(frame, str):", "encode sooner for the size check", control=True),
]  # fmt: skip
