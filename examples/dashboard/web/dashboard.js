/* The dashboard page, bundled from web/ by examples/build.py: do not edit. */
(() => {
  var __defProp = Object.defineProperty;
  var __defNormalProp = (obj, key, value) => key in obj ? __defProp(obj, key, { enumerable: true, configurable: true, writable: true, value }) : obj[key] = value;
  var __publicField = (obj, key, value) => __defNormalProp(obj, typeof key !== "symbol" ? key + "" : key, value);

  // ../../typescript/src/errors.ts
  var WsmqError = class extends Error {
    constructor(code, message, init = {}) {
      super(message, init.cause === void 0 ? void 0 : { cause: init.cause });
      __publicField(this, "name", "WsmqError");
      __publicField(this, "code");
      __publicField(this, "details");
      __publicField(this, "correlationID");
      __publicField(this, "topic");
      /** True when the peer sent this error; false when it was raised locally. */
      __publicField(this, "remote");
      this.code = code;
      this.details = init.details;
      this.correlationID = init.correlationID;
      this.topic = init.topic;
      this.remote = init.remote ?? false;
    }
  };
  function isWsmqError(value) {
    return value instanceof WsmqError || value instanceof Error && value.name === "WsmqError" && typeof value.code === "string";
  }
  function describeError(error) {
    if (error instanceof Error) return error.message || error.name;
    return String(error);
  }
  function wrapError(code, message, cause) {
    return new WsmqError(code, `${message}: ${describeError(cause)}`, { cause });
  }

  // ../../typescript/src/generated/guards.ts
  var DEFS = {
    "MessageID": {
      "type": "string",
      "minLength": 1,
      "maxLength": 128
    },
    "CorrelationID": {
      "type": "string",
      "minLength": 1,
      "maxLength": 128
    },
    "Topic": {
      "type": "string",
      "minLength": 1,
      "maxLength": 255
    },
    "TopicString": {
      "type": "string",
      "minLength": 1,
      "maxLength": 255,
      "x-maxUtf8Bytes": 255,
      "x-maxTokens": 32,
      "pattern": "^[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ud800-\\udfff\\ufeff]*$(?!\n)"
    },
    "TopicName": {
      "type": "string",
      "minLength": 1,
      "maxLength": 255,
      "x-maxUtf8Bytes": 255,
      "x-maxTokens": 32,
      "pattern": "^(?=[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ud800-\\udfff\\ufeff]*$(?!\n))[^.*>]+(?:\\.[^.*>]+)*$(?!\n)"
    },
    "TopicPattern": {
      "type": "string",
      "minLength": 1,
      "maxLength": 255,
      "x-maxUtf8Bytes": 255,
      "x-maxTokens": 32,
      "pattern": "^(?=[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ud800-\\udfff\\ufeff]*$(?!\n))(?:(?:[^.*>]+|\\*)\\.)*(?:[^.*>]+|\\*|>)$(?!\n)"
    },
    "Timestamp": {
      "type": "integer",
      "minimum": 0,
      "maximum": 9007199254740991
    },
    "Ttl": {
      "type": "integer",
      "minimum": 1,
      "maximum": 9007199254740991
    },
    "ClientID": {
      "type": "string",
      "minLength": 1,
      "maxLength": 128,
      "pattern": "^[A-Za-z0-9_-]+$(?!\n)"
    },
    "MessageType": {
      "type": "string",
      "enum": [
        "event",
        "request",
        "response",
        "error"
      ]
    },
    "ErrorCode": {
      "type": "string",
      "pattern": "^[A-Z][A-Z0-9_]{0,63}$(?!\n)"
    },
    "EventHeader": {
      "type": "object",
      "required": [
        "messageID",
        "type",
        "topic",
        "timestamp"
      ],
      "properties": {
        "messageID": {
          "$ref": "#/$defs/MessageID"
        },
        "type": {
          "const": "event"
        },
        "topic": {
          "$ref": "#/$defs/Topic"
        },
        "timestamp": {
          "$ref": "#/$defs/Timestamp"
        },
        "correlationID": {},
        "ttl": {},
        "source": {
          "type": "string"
        },
        "traceparent": {
          "$ref": "#/$defs/Traceparent"
        }
      }
    },
    "RequestHeader": {
      "type": "object",
      "required": [
        "messageID",
        "type",
        "topic",
        "timestamp",
        "correlationID"
      ],
      "properties": {
        "messageID": {
          "$ref": "#/$defs/MessageID"
        },
        "type": {
          "const": "request"
        },
        "topic": {
          "$ref": "#/$defs/Topic"
        },
        "timestamp": {
          "$ref": "#/$defs/Timestamp"
        },
        "correlationID": {
          "$ref": "#/$defs/CorrelationID"
        },
        "ttl": {
          "$ref": "#/$defs/Ttl"
        },
        "source": {
          "type": "string"
        },
        "traceparent": {
          "$ref": "#/$defs/Traceparent"
        }
      }
    },
    "ResponseHeader": {
      "type": "object",
      "required": [
        "messageID",
        "type",
        "topic",
        "timestamp",
        "correlationID"
      ],
      "properties": {
        "messageID": {
          "$ref": "#/$defs/MessageID"
        },
        "type": {
          "const": "response"
        },
        "topic": {
          "$ref": "#/$defs/Topic"
        },
        "timestamp": {
          "$ref": "#/$defs/Timestamp"
        },
        "correlationID": {
          "$ref": "#/$defs/CorrelationID"
        },
        "ttl": {},
        "source": {
          "type": "string"
        },
        "traceparent": {
          "$ref": "#/$defs/Traceparent"
        }
      }
    },
    "ErrorHeader": {
      "type": "object",
      "required": [
        "messageID",
        "type",
        "topic",
        "timestamp",
        "correlationID"
      ],
      "properties": {
        "messageID": {
          "$ref": "#/$defs/MessageID"
        },
        "type": {
          "const": "error"
        },
        "topic": {
          "$ref": "#/$defs/Topic"
        },
        "timestamp": {
          "$ref": "#/$defs/Timestamp"
        },
        "correlationID": {
          "$ref": "#/$defs/CorrelationID"
        },
        "ttl": {},
        "source": {
          "type": "string"
        },
        "traceparent": {
          "$ref": "#/$defs/Traceparent"
        }
      }
    },
    "ErrorDetail": {
      "type": "object",
      "required": [
        "message"
      ],
      "properties": {
        "code": {
          "$ref": "#/$defs/ErrorCode"
        },
        "message": {
          "type": "string"
        },
        "details": {}
      }
    },
    "ErrorBody": {
      "type": "object",
      "required": [
        "error"
      ],
      "properties": {
        "error": {
          "$ref": "#/$defs/ErrorDetail"
        }
      }
    },
    "EventMessage": {
      "type": "object",
      "required": [
        "header"
      ],
      "properties": {
        "header": {
          "$ref": "#/$defs/EventHeader"
        },
        "body": {}
      }
    },
    "RequestMessage": {
      "type": "object",
      "required": [
        "header"
      ],
      "properties": {
        "header": {
          "$ref": "#/$defs/RequestHeader"
        },
        "body": {}
      }
    },
    "ResponseMessage": {
      "type": "object",
      "required": [
        "header"
      ],
      "properties": {
        "header": {
          "$ref": "#/$defs/ResponseHeader"
        },
        "body": {}
      }
    },
    "ErrorMessage": {
      "type": "object",
      "required": [
        "header",
        "body"
      ],
      "properties": {
        "header": {
          "$ref": "#/$defs/ErrorHeader"
        },
        "body": {
          "$ref": "#/$defs/ErrorBody"
        }
      }
    },
    "Traceparent": {},
    "RegisterBody": {
      "type": "object",
      "properties": {
        "pageSessionID": {
          "type": "string",
          "maxLength": 256
        },
        "brokerClientID": {
          "type": "string",
          "maxLength": 128
        },
        "resumeToken": {
          "type": "string",
          "maxLength": 1024
        }
      }
    },
    "RegisteredBody": {
      "type": "object",
      "required": [
        "brokerClientID",
        "status",
        "resumeToken",
        "resumed",
        "protocol",
        "pingInterval",
        "maxMessageSize"
      ],
      "properties": {
        "brokerClientID": {
          "$ref": "#/$defs/ClientID"
        },
        "pageSessionID": {
          "type": "string"
        },
        "status": {
          "const": "registered"
        },
        "resumeToken": {
          "type": "string",
          "minLength": 1,
          "maxLength": 1024
        },
        "resumed": {
          "type": "boolean"
        },
        "protocol": {
          "const": "wsmq/1"
        },
        "pingInterval": {
          "type": "integer",
          "minimum": 1
        },
        "maxMessageSize": {
          "type": "integer",
          "minimum": 1
        },
        "messageRate": {
          "type": "number",
          "minimum": 0
        },
        "messageBurst": {
          "type": "number",
          "minimum": 0
        }
      }
    },
    "ClientPresenceBody": {
      "type": "object",
      "required": [
        "brokerClientID"
      ],
      "properties": {
        "brokerClientID": {
          "$ref": "#/$defs/ClientID"
        },
        "pageSessionID": {
          "type": "string"
        },
        "resumed": {
          "type": "boolean"
        }
      }
    },
    "ClientDeregisteredBody": {
      "type": "object",
      "required": [
        "brokerClientID",
        "reason"
      ],
      "properties": {
        "brokerClientID": {
          "$ref": "#/$defs/ClientID"
        },
        "pageSessionID": {
          "type": "string"
        },
        "reason": {
          "type": "string"
        }
      }
    },
    "SubscribeBody": {
      "type": "object",
      "required": [
        "topic"
      ],
      "properties": {
        "topic": {
          "$ref": "#/$defs/TopicPattern"
        },
        "echo": {
          "type": "boolean"
        }
      }
    },
    "SubscribeResult": {
      "type": "object",
      "required": [
        "topic",
        "subscribed"
      ],
      "properties": {
        "topic": {
          "$ref": "#/$defs/TopicPattern"
        },
        "subscribed": {
          "const": true
        }
      }
    },
    "UnsubscribeBody": {
      "type": "object",
      "required": [
        "topic"
      ],
      "properties": {
        "topic": {
          "$ref": "#/$defs/TopicPattern"
        }
      }
    },
    "UnsubscribeResult": {
      "type": "object",
      "required": [
        "topic",
        "unsubscribed"
      ],
      "properties": {
        "topic": {
          "$ref": "#/$defs/TopicPattern"
        },
        "unsubscribed": {
          "type": "boolean"
        }
      }
    },
    "PingBody": {},
    "PongResult": {
      "type": "object",
      "required": [
        "timestamp"
      ],
      "properties": {
        "timestamp": {
          "$ref": "#/$defs/Timestamp"
        }
      }
    },
    "CancelBody": {
      "type": "object",
      "required": [
        "correlationID"
      ],
      "properties": {
        "correlationID": {
          "$ref": "#/$defs/CorrelationID"
        }
      }
    },
    "CancelReason": {
      "type": "string",
      "enum": [
        "TIMEOUT",
        "CANCELLED",
        "SHUTTING_DOWN"
      ]
    },
    "InternalCancelBody": {
      "type": "object",
      "required": [
        "correlationID",
        "reason"
      ],
      "properties": {
        "correlationID": {
          "$ref": "#/$defs/CorrelationID"
        },
        "reason": {
          "$ref": "#/$defs/CancelReason"
        }
      }
    },
    "StandardErrorCode": {
      "type": "string",
      "enum": [
        "BAD_MESSAGE",
        "BAD_TOPIC",
        "FORBIDDEN",
        "UNAUTHENTICATED",
        "ALREADY_REGISTERED",
        "NO_HANDLER",
        "HANDLER_ERROR",
        "INVALID_BODY",
        "TIMEOUT",
        "CANCELLED",
        "DISCONNECTED",
        "UNKNOWN_CLIENT",
        "UNKNOWN_CORRELATION",
        "TOO_LARGE",
        "RATE_LIMITED",
        "SHUTTING_DOWN",
        "INTERNAL"
      ]
    }
  };
  var ENVELOPE = {
    "oneOf": [
      {
        "$ref": "#/$defs/EventMessage"
      },
      {
        "$ref": "#/$defs/RequestMessage"
      },
      {
        "$ref": "#/$defs/ResponseMessage"
      },
      {
        "$ref": "#/$defs/ErrorMessage"
      }
    ]
  };
  var patternCache = /* @__PURE__ */ new Map();
  function codePointLength(s) {
    let n = 0;
    for (const _ of s) n += 1;
    return n;
  }
  function utf8Length(s) {
    return new TextEncoder().encode(s).length;
  }
  function jsonType(value) {
    if (value === null) return "null";
    if (Array.isArray(value)) return "array";
    return typeof value;
  }
  function hasType(value, type) {
    switch (type) {
      case "string":
        return typeof value === "string";
      case "integer":
        return typeof value === "number" && Number.isInteger(value);
      case "number":
        return typeof value === "number" && Number.isFinite(value);
      case "boolean":
        return typeof value === "boolean";
      case "object":
        return jsonType(value) === "object";
      case "array":
        return Array.isArray(value);
      case "null":
        return value === null;
    }
  }
  function deepEqual(a, b) {
    if (a === b) return true;
    if (jsonType(a) !== jsonType(b)) return false;
    if (Array.isArray(a) && Array.isArray(b)) {
      return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
    }
    if (jsonType(a) === "object") {
      const ao = a;
      const bo = b;
      const keys = Object.keys(ao);
      return keys.length === Object.keys(bo).length && keys.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && deepEqual(ao[k], bo[k]));
    }
    return false;
  }
  function check(schema, value, path) {
    if (schema.$ref !== void 0) {
      const target = DEFS[schema.$ref.slice("#/$defs/".length)];
      if (target === void 0) return `${path}: unresolved $ref ${schema.$ref}`;
      const r = check(target, value, path);
      if (r !== null) return r;
    }
    if (schema.type !== void 0 && !hasType(value, schema.type)) return `${path}: type`;
    if ("const" in schema && !deepEqual(value, schema.const)) return `${path}: const`;
    if (schema.enum !== void 0 && !schema.enum.some((v) => deepEqual(value, v))) {
      return `${path}: enum`;
    }
    if (typeof value === "string") {
      if (schema.minLength !== void 0 || schema.maxLength !== void 0) {
        const n = codePointLength(value);
        if (schema.minLength !== void 0 && n < schema.minLength) return `${path}: minLength`;
        if (schema.maxLength !== void 0 && n > schema.maxLength) return `${path}: maxLength`;
      }
      if (schema.pattern !== void 0) {
        let re = patternCache.get(schema.pattern);
        if (re === void 0) {
          re = new RegExp(schema.pattern, "u");
          patternCache.set(schema.pattern, re);
        }
        if (!re.test(value)) return `${path}: pattern`;
      }
      const maxBytes = schema["x-maxUtf8Bytes"];
      if (maxBytes !== void 0 && utf8Length(value) > maxBytes) return `${path}: x-maxUtf8Bytes`;
      const maxTokens = schema["x-maxTokens"];
      if (maxTokens !== void 0 && value.split(".").length > maxTokens) return `${path}: x-maxTokens`;
    }
    if (typeof value === "number") {
      if (schema.minimum !== void 0 && value < schema.minimum) return `${path}: minimum`;
      if (schema.maximum !== void 0 && value > schema.maximum) return `${path}: maximum`;
    }
    if (jsonType(value) === "object") {
      const obj = value;
      if (schema.properties !== void 0) {
        for (const [name, sub] of Object.entries(schema.properties)) {
          if (Object.prototype.hasOwnProperty.call(obj, name)) {
            const r = check(sub, obj[name], `${path}.${name}`);
            if (r !== null) return r;
          }
        }
      }
      for (const name of schema.required ?? []) {
        if (!Object.prototype.hasOwnProperty.call(obj, name)) return `${path}.${name}: required`;
      }
    }
    if (schema.oneOf !== void 0) {
      const failures = [];
      let matches = 0;
      for (const branch of schema.oneOf) {
        const r = check(branch, value, path);
        if (r === null) matches += 1;
        else failures.push(r);
      }
      if (matches > 1) return `${path}: oneOf (${matches} branches match)`;
      if (matches === 0) {
        const score = (f) => (f.endsWith(": const") ? 0 : 1e3) + f.indexOf(":");
        let best = failures[0] ?? `${path}: oneOf`;
        for (const f of failures) if (score(f) > score(best)) best = f;
        return best;
      }
    }
    return null;
  }
  function validateEnvelope(value) {
    const rule = check(ENVELOPE, value, "envelope");
    return rule === null ? { ok: true, envelope: value } : { ok: false, rule };
  }
  function decodeEnvelope(frame) {
    let value;
    try {
      value = JSON.parse(frame);
    } catch {
      return { ok: false, rule: "frame: not JSON" };
    }
    return validateEnvelope(value);
  }
  function validateBody(name, value) {
    const rule = check({ $ref: `#/$defs/${name}` }, value, "body");
    return rule === null ? { ok: true, value } : { ok: false, rule };
  }

  // ../../typescript/src/generated/types.ts
  var SUBPROTOCOL = "wsmq.v1";

  // ../../typescript/src/generated/rules.ts
  var TOPIC_EXCLUDED_CLASS = "\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ud800-\\udfff\\ufeff";
  var MAX_TOPIC_BYTES = 255;
  var MAX_TOPIC_TOKENS = 32;
  var NO_RECONNECT_CLOSE_CODES = [1e3, 1008, 4001, 4009];

  // ../../typescript/src/protocol.ts
  var ERROR_CODE_RE = /^[A-Z][A-Z0-9_]{0,63}$/;
  function isRecord(value) {
    return typeof value === "object" && value !== null && !Array.isArray(value);
  }
  function decodeEnvelope2(data) {
    const result = decodeEnvelope(data);
    if (!result.ok) return result.rule;
    const envelope = result.envelope;
    return { ...envelope, body: envelope.body === void 0 ? null : envelope.body };
  }
  function readErrorBody(body) {
    if (isRecord(body) && isRecord(body["error"])) {
      const err = body["error"];
      const code = typeof err["code"] === "string" && err["code"] !== "" ? err["code"] : "HANDLER_ERROR";
      const message = typeof err["message"] === "string" ? err["message"] : code;
      return "details" in err ? { code, message, details: err["details"] } : { code, message };
    }
    return { code: "INTERNAL", message: "error envelope without an error body" };
  }
  function isRegisteredBody(body) {
    return isRecord(body) && typeof body["brokerClientID"] === "string" && body["brokerClientID"] !== "" && typeof body["resumeToken"] === "string";
  }
  function isCancelNotice(body) {
    return validateBody("InternalCancelBody", body).ok;
  }

  // ../../typescript/src/dispatch.ts
  function classify(data) {
    const envelope = decodeEnvelope2(data);
    if (typeof envelope === "string") return { kind: "bad", problem: `bad frame from broker (${envelope})` };
    const { header } = envelope;
    switch (header.type) {
      case "response":
      case "error":
        return { kind: "answer", envelope };
      case "request":
        return { kind: "request", envelope };
      case "event":
        if (header.topic === "_internal.client.registered") {
          return isRegisteredBody(envelope.body) ? { kind: "registered", ack: envelope.body } : { kind: "bad", problem: "malformed registration acknowledgement" };
        }
        if (header.topic === "_internal.cancel") {
          return isCancelNotice(envelope.body) ? { kind: "cancel", notice: envelope.body } : { kind: "ignored" };
        }
        return { kind: "event", envelope };
    }
  }

  // ../../typescript/src/events.ts
  var Emitter = class {
    constructor() {
      __publicField(this, "listeners", /* @__PURE__ */ new Map());
    }
    /** Add a listener; returns a function that removes it. */
    on(event, listener) {
      let set = this.listeners.get(event);
      if (set === void 0) {
        set = /* @__PURE__ */ new Set();
        this.listeners.set(event, set);
      }
      const entry = listener;
      set.add(entry);
      return () => {
        set.delete(entry);
      };
    }
    /**
     * Call `first` (the seed-style property, when set), then every listener of `event`, each
     * guarded: `onThrow` gets what a listener threw.
     */
    emit(event, payload, first, onThrow) {
      const callbacks = [...this.listeners.get(event) ?? []];
      if (first !== null) callbacks.unshift(first);
      for (const callback of callbacks) {
        try {
          callback(payload);
        } catch (error) {
          onThrow(error);
        }
      }
    }
  };

  // ../../typescript/src/frames.ts
  var LONE_SURROGATE_ESCAPE = /(?<!\\)(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/;
  function randomId(random) {
    let id = "";
    for (let i = 0; i < 8; i++) id += Math.floor(random() * 36).toString(36);
    return id;
  }
  var FrameEncoder = class {
    constructor() {
      __publicField(this, "prefix", randomId(Math.random));
      __publicField(this, "counter", 0);
      /** The broker's `maxMessageSize` from the last registration (0 = not known yet). */
      __publicField(this, "maxMessageSize", 0);
      /** The `traceparent` option (spec §3.2): asked for each event and request we send. */
      __publicField(this, "traceparent");
    }
    /** A fresh message ID (also used as the correlation ID of a request). */
    nextId() {
      this.counter += 1;
      return `${this.prefix}-${this.counter}`;
    }
    /**
     * Encode one envelope. Throws what `JSON.stringify` throws (a BigInt, a cycle): callers turn
     * that into `BAD_MESSAGE` or an error answer, whichever their caller expects.
     */
    encode(type, topic, body, extra = {}) {
      const header = { messageID: extra.messageID ?? this.nextId(), type, topic, timestamp: Date.now() };
      if (extra.correlationID !== void 0) header.correlationID = extra.correlationID;
      if (extra.ttl !== void 0) header.ttl = extra.ttl;
      if (this.traceparent !== void 0 && (type === "event" || type === "request") && !topic.startsWith("_")) {
        const traceparent = this.traceparent();
        if (typeof traceparent === "string") header.traceparent = traceparent;
      }
      const frame = JSON.stringify({ header, body: body === void 0 ? null : body });
      if (frame.includes("\\ud") && LONE_SURROGATE_ESCAPE.test(frame)) {
        throw new WsmqError(
          "BAD_MESSAGE",
          "the body holds a lone surrogate (a UTF-16 half, U+D800-U+DFFF, without its pair): it has no UTF-8 form, so the broker would refuse the frame (spec §2.2); fix the string, e.g. with String.prototype.toWellFormed()",
          { topic }
        );
      }
      return frame;
    }
    /**
     * Throw `TOO_LARGE` when `frame` exceeds the broker's `maxMessageSize` (§12.1): it would close
     * the connection over it, failing every other request in flight. The cheap length test first:
     * a UTF-8 string is at most 4 bytes per UTF-16 unit.
     */
    checkSize(frame, topic) {
      const max = this.maxMessageSize;
      if (max > 0 && frame.length > max / 4) {
        const size = new TextEncoder().encode(frame).length;
        if (size > max) throw new WsmqError("TOO_LARGE", `message is ${size} bytes, the broker accepts ${max}`, { topic });
      }
    }
  };

  // ../../typescript/src/handlers.ts
  var TTL_GRACE_MS = 1e3;
  function errorBodyOf(error) {
    const { code, details } = error ?? {};
    const body = {
      code: typeof code === "string" && ERROR_CODE_RE.test(code) ? code : "HANDLER_ERROR",
      message: describeError(error)
    };
    if (details !== void 0) body.details = details;
    return body;
  }
  function contextOf(envelope, entry, signal) {
    return {
      topic: envelope.header.topic,
      pattern: entry.pattern,
      type: envelope.header.type === "request" ? "request" : "event",
      header: envelope.header,
      envelope,
      source: envelope.header.source,
      traceparent: typeof envelope.header.traceparent === "string" ? envelope.header.traceparent : void 0,
      signal
    };
  }
  var HandlerRunner = class {
    constructor(subscriptions, encoder, report) {
      __publicField(this, "subscriptions", subscriptions);
      __publicField(this, "encoder", encoder);
      __publicField(this, "report", report);
      /** Server→client requests whose handler is running, by correlation ID. */
      __publicField(this, "inflight", /* @__PURE__ */ new Map());
    }
    /** An event: every matching handler runs; what they return or throw is theirs (§7.4). */
    deliver(envelope) {
      const topic = envelope.header.topic;
      const signal = new AbortController().signal;
      for (const entry of this.subscriptions.matching(topic)) {
        const failed = (error) => this.report(wrapError("HANDLER_ERROR", `handler for ${topic} failed`, error));
        try {
          const result = entry.handler(envelope.body, contextOf(envelope, entry, signal));
          if (result instanceof Promise) result.catch(failed);
        } catch (error) {
          failed(error);
        }
      }
    }
    /**
     * A server→client request (§8.4): the first matching handler answers, through `send` (which
     * drops the frame when the socket it came on is gone: the broker already failed it).
     */
    async answer(envelope, send) {
      const { topic, ttl, correlationID } = envelope.header;
      const reply = (type, body) => send(this.encodeAnswer(type, envelope, body));
      const entry = this.subscriptions.first(topic);
      if (entry === void 0) {
        reply("error", { error: { code: "NO_HANDLER", message: `no handler for ${topic} on this client` } });
        return;
      }
      const controller = new AbortController();
      this.inflight.set(correlationID, controller);
      const ttlTimer = ttl !== void 0 ? setTimeout(() => controller.abort(new WsmqError("TIMEOUT", `request ${topic} outlived its ttl`)), ttl + TTL_GRACE_MS) : void 0;
      try {
        const result = await entry.handler(envelope.body, contextOf(envelope, entry, controller.signal));
        if (!controller.signal.aborted) reply("response", result === void 0 ? null : result);
      } catch (error) {
        if (!controller.signal.aborted) reply("error", { error: errorBodyOf(error) });
      } finally {
        clearTimeout(ttlTimer);
        if (this.inflight.get(correlationID) === controller) this.inflight.delete(correlationID);
      }
    }
    /** `_internal.cancel` (§8.8 rule 2): abort that handler; an unknown correlation is ignored. */
    cancel(notice) {
      this.inflight.get(notice.correlationID)?.abort(new WsmqError("CANCELLED", `cancelled by the broker (${notice.reason})`));
    }
    /** The socket is gone (§8.9): nobody is left to take an answer, so every handler is aborted. */
    abortAll(error) {
      for (const controller of this.inflight.values()) controller.abort(error);
      this.inflight.clear();
    }
    /** An answer frame; one the broker would refuse (or that is not JSON) becomes an error answer. */
    encodeAnswer(type, request, body) {
      const { correlationID, topic } = request.header;
      try {
        const frame = this.encoder.encode(type, correlationID, body, { correlationID });
        this.encoder.checkSize(frame, topic);
        return frame;
      } catch (error) {
        const code = error instanceof WsmqError ? error.code : "HANDLER_ERROR";
        return this.encoder.encode(
          "error",
          correlationID,
          { error: { code, message: `cannot send the answer: ${describeError(error)}` } },
          { correlationID }
        );
      }
    }
  };

  // ../../typescript/src/backoff.ts
  var DEFAULT_BACKOFF = { initialDelayMs: 250, maxDelayMs: 1e4, factor: 2 };
  function backoffDelay(attempt, options = DEFAULT_BACKOFF, random = Math.random) {
    const exp = Math.max(0, attempt - 1);
    const base = Math.min(options.maxDelayMs, options.initialDelayMs * options.factor ** exp);
    const r = Math.min(1, Math.max(0, random()));
    return Math.round(base / 2 + base / 2 * r);
  }

  // ../../typescript/src/lifecycle.ts
  var NO_RECONNECT_CODES = new Set(NO_RECONNECT_CLOSE_CODES);
  var Reconnection = class {
    constructor(policy) {
      __publicField(this, "policy", policy);
      /** Connection attempts since the last registered link (1 while the first one is under way). */
      __publicField(this, "attempt", 0);
      /** Registered links in a row the broker closed with 4029: each adds a backoff step. */
      __publicField(this, "penalty", 0);
      /** `close()` was called: nothing reconnects until `connect()` again. */
      __publicField(this, "closing", false);
      /** A link has registered since the last `connect()` (permanent failures are retried after). */
      __publicField(this, "everOpen", false);
    }
    /** `connect()` from idle or closed: a fresh start. */
    start() {
      this.closing = false;
      this.everOpen = false;
      this.attempt = 0;
      this.penalty = 0;
    }
    /** A socket is about to be opened; returns its attempt number. */
    nextAttempt() {
      this.attempt += 1;
      return this.attempt;
    }
    /** The broker acknowledged registration: the next loss starts counting afresh. */
    registered() {
      this.attempt = 0;
      this.everOpen = true;
    }
    /**
     * The table in the module docstring. `wasOpen`: the socket had registered; `failure`: why it
     * never opened, when known ({@link classifyFailure}).
     */
    afterLoss(end, wasOpen, failure2 = null) {
      const exhausted = !wasOpen && this.attempt >= this.policy.maxReconnectAttempts + 1;
      const permanent = failure2?.permanent === true && !this.everOpen;
      if (this.closing || !this.policy.reconnect || NO_RECONNECT_CODES.has(end.code) || exhausted || permanent) {
        return { kind: "close" };
      }
      if (wasOpen) {
        this.penalty = end.code === 4029 ? this.penalty + 1 : 0;
        this.attempt = 0;
      }
      const attempt = this.attempt + 1;
      return { kind: "reconnect", attempt, delayMs: backoffDelay(attempt + this.penalty, this.policy.backoff, this.policy.random) };
    }
  };
  function failure(url, reason, message, permanent, extra = {}, cause) {
    return { error: new WsmqError("DISCONNECTED", message, { details: { url, reason, ...extra }, cause }), permanent };
  }
  function statusHint(status) {
    if (status === 404) return "check the path (the reference broker serves /ws)";
    if (status === 401 || status === 403) return "the server refused this client: check its Origin allow-list and credentials";
    if (status === 429) return "too many connections from this address (the broker's per-IP limit); retrying";
    if (status >= 500) return "the server failed; retrying";
    return "is this the URL of a wsmq broker?";
  }
  function classifyFailure(url, thrown, event) {
    if (thrown !== void 0) {
      if (thrown instanceof WsmqError) return { error: thrown, permanent: true };
      const why = describeError(thrown);
      return failure(url, "bad-url", `invalid WebSocket URL ${JSON.stringify(url)}: ${why} (expected ws://host:port/path or wss://…)`, true, {}, thrown);
    }
    const { message, error } = event ?? {};
    const text = typeof message === "string" ? message : error instanceof Error ? error.message : "";
    const status = /Unexpected server response: (\d{3})/.exec(text);
    if (status !== null) {
      const code = Number(status[1]);
      const permanent = code >= 400 && code < 500 && code !== 408 && code !== 429;
      return failure(url, "http-status", `the server at ${url} answered HTTP ${code} to the WebSocket upgrade: ${statusHint(code)}`, permanent, { status: code }, error);
    }
    if (/no subprotocol|Invalid Sec-WebSocket-Protocol/i.test(text)) {
      return failure(url, "not-wsmq", `the server at ${url} accepted the WebSocket but not the wsmq.v1 subprotocol: it is not a wsmq broker (${text})`, true, {}, error);
    }
    const sysCode = error?.code;
    if (sysCode === "ECONNREFUSED" || /ECONNREFUSED/.test(text)) {
      return failure(url, "refused", `connection to ${url} refused: is the broker running, on that host and port?`, false, {}, error);
    }
    if (sysCode === "ENOTFOUND" || sysCode === "EAI_AGAIN") {
      return failure(url, "network", `cannot resolve the host of ${url} (${String(sysCode)}): check the host name; retrying`, false, {}, error);
    }
    return failure(url, "network", `WebSocket error${text ? `: ${text}` : ""} connecting to ${url}; retrying`, false, {}, error);
  }

  // ../../typescript/src/options.ts
  function resolveOptions(options) {
    return {
      WebSocket: options.WebSocket,
      reconnect: options.reconnect ?? true,
      maxReconnectAttempts: options.maxReconnectAttempts ?? Number.POSITIVE_INFINITY,
      backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
      random: options.random ?? Math.random,
      requestTimeoutMs: options.requestTimeoutMs ?? 3e4,
      connectTimeoutMs: options.connectTimeoutMs ?? 1e4,
      pingIntervalMs: options.pingIntervalMs,
      pageSessionID: options.pageSessionID,
      protocols: options.protocols ?? [SUBPROTOCOL],
      auth: options.auth,
      maxQueuedMessages: options.maxQueuedMessages ?? 1e3
    };
  }

  // ../../typescript/src/outbox.ts
  var Outbox = class {
    constructor(limit) {
      __publicField(this, "limit", limit);
      __publicField(this, "items", []);
    }
    get size() {
      return this.items.length;
    }
    /** The error for a message that would have to wait here while the outbox is full, else null. */
    fullError(topic) {
      if (this.items.length < this.limit) return null;
      return new WsmqError("RATE_LIMITED", `${this.limit} messages already queued (not connected, or paced to the broker's rate)`, {
        topic,
        details: { reason: "client-queue-full", limit: this.limit }
      });
    }
    push(item) {
      this.items.push(item);
    }
    /** The oldest queued frame, left in place. */
    peek() {
      return this.items[0];
    }
    /** Take the oldest queued frame. */
    shift() {
      return this.items.shift();
    }
    /** Forget a queued request (it timed out or was aborted before it could be sent). */
    drop(pending) {
      this.items = this.items.filter((item) => item.pending !== pending);
    }
    /** Everything queued, oldest first; the outbox is empty afterwards. */
    drain() {
      const items = this.items;
      this.items = [];
      return items;
    }
  };

  // ../../typescript/src/pacing.ts
  var PACING = {
    /** Share of the announced rate and burst used: the margin absorbs frames arriving bunched. */
    margin: 0.9,
    /** The rate an unpaced client is assumed to have sent at when first refused (messages/s). */
    unpacedGuess: 1e4,
    /** Never slower than this (messages/s): the request deadlines settle the rest. */
    minRate: 1,
    /** Pause after a refusal; doubled when refused again within `recoverAfterMs`. */
    minBackoffMs: 50,
    maxBackoffMs: 5e3,
    /** Refusals within this long after a decrease are the same overshoot: no second halving. */
    oneDecreaseMs: 250,
    /** Quiet time after which the rate grows by `growth` (and the backoff halves). */
    recoverAfterMs: 1e3,
    growth: 1.5,
    /** Without a ceiling, the bucket is unlimited again past this many times the refused rate. */
    unlimitedFactor: 16
  };
  var Pacer = class {
    constructor() {
      /** Messages per second now (Infinity: unpaced). */
      __publicField(this, "rate", Number.POSITIVE_INFINITY);
      /** Tokens the bucket may bank now. */
      __publicField(this, "burst", Number.POSITIVE_INFINITY);
      /** `RATE_LIMITED` (message rate) refusals seen on this connection (informational). */
      __publicField(this, "limitedCount", 0);
      __publicField(this, "ceiling", Number.POSITIVE_INFINITY);
      __publicField(this, "ceilingBurst", Number.POSITIVE_INFINITY);
      __publicField(this, "unlimitedAbove", Number.POSITIVE_INFINITY);
      __publicField(this, "tokens", Number.POSITIVE_INFINITY);
      __publicField(this, "last", 0);
      __publicField(this, "quietSince", 0);
      __publicField(this, "resumeAt", Number.NEGATIVE_INFINITY);
      __publicField(this, "backoffMs", PACING.minBackoffMs);
    }
    /**
     * Start over at the limits of a registration ack (every (re)connection, §6.2); no rate, or 0:
     * the broker announced no limit, so nothing is paced until a refusal.
     */
    configure(rate, burst, now2) {
      if (rate !== void 0 && Number.isFinite(rate) && rate > 0) {
        this.ceiling = rate * PACING.margin;
        this.ceilingBurst = Math.max(1, (burst !== void 0 && burst > 0 ? burst : rate) * PACING.margin);
      } else {
        this.ceiling = this.ceilingBurst = Number.POSITIVE_INFINITY;
      }
      this.rate = this.ceiling;
      this.burst = this.ceilingBurst;
      this.tokens = Math.max(0, this.burst - 1);
      this.unlimitedAbove = Number.POSITIVE_INFINITY;
      this.last = this.quietSince = now2;
      this.resumeAt = Number.NEGATIVE_INFINITY;
    }
    /**
     * How long until one more message may go (0: now, and its token is taken). The caller sends
     * when 0, else waits that long and asks again.
     */
    take(now2) {
      if (this.rate === Number.POSITIVE_INFINITY) return 0;
      if (now2 - this.quietSince >= PACING.recoverAfterMs && this.rate < this.ceiling) {
        this.recover(now2);
        if (this.rate === Number.POSITIVE_INFINITY) return 0;
      }
      if (now2 < this.resumeAt) return this.resumeAt - now2;
      this.refill(now2);
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return 0;
      }
      return Math.max(1, (1 - this.tokens) / this.rate * 1e3);
    }
    /** A message that cannot wait (a cancel notice) spends a token anyway, going into debt. */
    spend(now2) {
      if (this.rate === Number.POSITIVE_INFINITY) return;
      this.refill(now2);
      this.tokens -= 1;
    }
    /**
     * A `RATE_LIMITED` about the message rate arrived: halve the rate, empty the bucket and pause
     * for the backoff; refusals within `oneDecreaseMs` of the last decrease only count (one
     * overshoot). True when it decreased.
     */
    limited(now2) {
      this.limitedCount += 1;
      if (this.limitedCount > 1 && now2 - this.quietSince < PACING.oneDecreaseMs) return false;
      if (this.limitedCount > 1 && now2 - this.quietSince < PACING.recoverAfterMs) {
        this.backoffMs = Math.min(PACING.maxBackoffMs, this.backoffMs * 2);
      }
      const current = this.rate === Number.POSITIVE_INFINITY ? PACING.unpacedGuess : this.rate;
      this.rate = Math.max(PACING.minRate, current / 2);
      if (this.ceiling === Number.POSITIVE_INFINITY) this.unlimitedAbove = current * PACING.unlimitedFactor;
      this.burst = Math.max(1, Math.min(this.ceilingBurst, this.rate));
      this.tokens = Math.min(this.tokens, 0);
      this.last = this.quietSince = now2;
      this.resumeAt = Math.max(this.resumeAt, now2 + this.backoffMs);
      return true;
    }
    /** Every quiet `recoverAfterMs` the rate grows ×`growth` up to the ceiling; the backoff halves. */
    recover(now2) {
      const steps = Math.floor((now2 - this.quietSince) / PACING.recoverAfterMs);
      this.quietSince += steps * PACING.recoverAfterMs;
      this.backoffMs = Math.max(PACING.minBackoffMs, this.backoffMs / 2 ** steps);
      const grown = this.rate * PACING.growth ** Math.min(steps, 64);
      if (grown >= this.unlimitedAbove) {
        this.rate = this.burst = this.tokens = Number.POSITIVE_INFINITY;
        return;
      }
      this.refill(now2);
      this.rate = Math.min(this.ceiling, grown);
      this.burst = Math.max(this.burst, Math.min(this.ceilingBurst, this.rate));
    }
    refill(now2) {
      if (now2 > this.last) {
        this.tokens = Math.min(this.burst, this.tokens + (now2 - this.last) / 1e3 * this.rate);
        this.last = now2;
      }
    }
  };

  // ../../typescript/src/requests.ts
  var MAX_TIMEOUT_MS = 2 ** 31 - 1;
  var SETTLED_MEMORY = 1024;
  function requestTimeout(requested, fallback) {
    const value = requested === void 0 || Number.isNaN(requested) ? fallback : requested;
    return Math.min(MAX_TIMEOUT_MS, value);
  }
  function ttlFor(timeoutMs) {
    return Math.max(1, Math.round(timeoutMs));
  }
  var PendingTable = class {
    /**
     * `onGiveUp` runs after a request settled because its caller stopped waiting (timeout or
     * abort), with the socket it had gone out on (null: still queued).
     */
    constructor(onGiveUp) {
      __publicField(this, "onGiveUp", onGiveUp);
      __publicField(this, "entries", /* @__PURE__ */ new Map());
      /** Recently settled correlation IDs, oldest first. */
      __publicField(this, "settled", /* @__PURE__ */ new Set());
    }
    get size() {
      return this.entries.size;
    }
    has(correlationID) {
      return this.entries.has(correlationID);
    }
    /** The request waiting for `correlationID`, if any. */
    get(correlationID) {
      return this.entries.get(correlationID);
    }
    /**
     * Wait for the answer to `correlationID`: the promise settles on the answer, on `TIMEOUT`
     * after `timeoutMs`, or on `CANCELLED` when `signal` aborts.
     */
    open(correlationID, topic, timeoutMs, signal) {
      let entry;
      const promise = new Promise((resolve, reject) => {
        entry = { correlationID, topic, sentOn: null, frame: "", resolve, reject, timer: void 0, detachSignal: void 0 };
      });
      entry.timer = setTimeout(() => {
        this.giveUp(entry, new WsmqError("TIMEOUT", `no answer to ${topic} within ${timeoutMs} ms`, { topic, correlationID }));
      }, timeoutMs);
      if (signal !== void 0) {
        const onAbort = () => this.giveUp(entry, new WsmqError("CANCELLED", `request ${topic} aborted`, { topic, correlationID }));
        signal.addEventListener("abort", onAbort, { once: true });
        entry.detachSignal = () => signal.removeEventListener("abort", onAbort);
      }
      this.entries.set(correlationID, entry);
      return { pending: entry, promise };
    }
    /** Settle a request once; false when it had already settled. */
    settle(pending, outcome) {
      const entry = this.entries.get(pending.correlationID);
      if (entry === void 0) return false;
      this.entries.delete(pending.correlationID);
      this.settled.add(pending.correlationID);
      if (this.settled.size > SETTLED_MEMORY) this.settled.delete(this.settled.values().next().value);
      clearTimeout(entry.timer);
      entry.detachSignal?.();
      if (outcome instanceof WsmqError) entry.reject(outcome);
      else entry.resolve(outcome.body);
      return true;
    }
    /** Settle the request an answer envelope belongs to (§8.1: matched by `correlationID`). */
    receive(envelope) {
      const correlationID = envelope.header.correlationID;
      const entry = this.entries.get(correlationID);
      if (entry === void 0 && this.settled.has(correlationID)) return { kind: "late" };
      let error = null;
      if (envelope.header.type === "error") {
        const { code, message, details } = readErrorBody(envelope.body);
        error = new WsmqError(code, message, { details, correlationID, topic: entry?.topic, remote: true });
      }
      if (entry === void 0) return { kind: "unmatched", error };
      this.settle(entry, error ?? { body: envelope.body });
      return { kind: "settled", error };
    }
    /** The socket `socket` is gone: every request sent on it fails with `error` (§8.9). */
    failSentOn(socket, error) {
      for (const entry of [...this.entries.values()]) {
        if (entry.sentOn === socket) this.settle(entry, error);
      }
    }
    /** The client closed for good: every request fails with `error`. */
    failAll(error) {
      for (const entry of [...this.entries.values()]) this.settle(entry, error);
    }
    giveUp(entry, error) {
      const sentOn = entry.sentOn;
      if (this.settle(entry, error)) this.onGiveUp(entry, sentOn);
    }
  };

  // ../../typescript/src/topics.ts
  var BAD_TOKEN_CHAR = new RegExp(`[${TOPIC_EXCLUDED_CLASS}.*>]`, "u");
  function byteLength(text) {
    return new TextEncoder().encode(text).length;
  }
  function topicProblem(topic, allowWildcards) {
    if (topic === "") return "topic is empty";
    if (byteLength(topic) > MAX_TOPIC_BYTES) return `topic is longer than ${MAX_TOPIC_BYTES} bytes`;
    const tokens = topic.split(".");
    if (tokens.length > MAX_TOPIC_TOKENS) return `topic has more than ${MAX_TOPIC_TOKENS} tokens`;
    for (const [i, token] of tokens.entries()) {
      if (allowWildcards && token === "*") continue;
      if (allowWildcards && token === ">") {
        if (i !== tokens.length - 1) return "'>' must be the last token";
        continue;
      }
      if (token === "") return "topic has an empty token";
      if (BAD_TOKEN_CHAR.test(token)) {
        return allowWildcards ? `bad token ${JSON.stringify(token)}` : `bad token ${JSON.stringify(token)} (publish and request topics cannot use wildcards)`;
      }
    }
    return null;
  }
  function topicMatches(pattern, topic) {
    if (pattern === topic) return true;
    const p = pattern.split(".");
    const t = topic.split(".");
    if ((p[0] === "*" || p[0] === ">") && topic.startsWith("_")) return false;
    for (let i = 0; i < p.length; i++) {
      const token = p[i];
      if (token === ">") return t.length > i;
      if (i >= t.length) return false;
      if (token !== "*" && token !== t[i]) return false;
    }
    return p.length === t.length;
  }

  // ../../typescript/src/subscriptions.ts
  function newPatternState(pattern, echo) {
    let settleReady = () => void 0;
    const ready = new Promise((resolve, reject) => {
      settleReady = (error) => error === void 0 ? resolve() : reject(error);
    });
    ready.catch(() => void 0);
    return { pattern, echo, entries: /* @__PURE__ */ new Set(), byHandler: /* @__PURE__ */ new Map(), subscribed: false, ready, settleReady };
  }
  var Subscriptions = class {
    constructor(link) {
      __publicField(this, "link", link);
      __publicField(this, "patterns", /* @__PURE__ */ new Map());
      __publicField(this, "handlers", []);
    }
    /** Add `handler` on `pattern` (already validated); see `WebSocketMQ.subscribe`. */
    add(pattern, handler, options) {
      let state = this.patterns.get(pattern);
      const existing = state?.byHandler.get(handler);
      if (state !== void 0 && existing !== void 0) {
        this.turnEchoOn(state, options);
        return existing;
      }
      const entry = { pattern, handler };
      this.handlers.push(entry);
      if (state === void 0) {
        state = newPatternState(pattern, options.echo ?? false);
        this.patterns.set(pattern, state);
        if (this.link.isOpen()) this.subscribeAtBroker(state);
      } else {
        this.turnEchoOn(state, options);
      }
      let active = true;
      const unsubscribe = () => {
        if (!active) return;
        active = false;
        this.remove(entry);
      };
      const result = Object.assign(unsubscribe, { ready: state.ready });
      state.entries.add(entry);
      state.byHandler.set(handler, result);
      return result;
    }
    /** The handlers whose pattern matches `topic` (§5.2), in subscription order. */
    matching(topic) {
      return this.handlers.filter((entry) => topicMatches(entry.pattern, topic));
    }
    /** The first handler matching `topic`: the one that answers a server→client request (§8.4). */
    first(topic) {
      return this.handlers.find((entry) => topicMatches(entry.pattern, topic));
    }
    /** A new link is registered: subscribe every pattern on it (§7.1). */
    resubscribe() {
      for (const state of this.patterns.values()) this.subscribeAtBroker(state);
    }
    /** The link is gone: the broker dropped every subscription with it (§2.3). */
    linkLost() {
      for (const state of this.patterns.values()) state.subscribed = false;
    }
    turnEchoOn(state, options) {
      if (options.echo !== true || state.echo) return;
      state.echo = true;
      if (this.link.isOpen()) this.subscribeAtBroker(state);
    }
    remove(entry) {
      const index = this.handlers.indexOf(entry);
      if (index >= 0) this.handlers.splice(index, 1);
      const state = this.patterns.get(entry.pattern);
      if (state === void 0) return;
      state.entries.delete(entry);
      state.byHandler.delete(entry.handler);
      if (state.entries.size > 0) return;
      this.patterns.delete(entry.pattern);
      state.settleReady(new WsmqError("CANCELLED", "unsubscribed", { topic: entry.pattern }));
      if (this.link.isOpen() && state.subscribed) {
        this.link.control("_client.unsubscribe", { topic: entry.pattern }).catch(() => void 0);
      }
    }
    subscribeAtBroker(state) {
      const body = { topic: state.pattern };
      if (state.echo) body.echo = true;
      this.link.control("_client.subscribe", body).then(
        () => {
          if (this.patterns.get(state.pattern) !== state) {
            if (!this.patterns.has(state.pattern) && this.link.isOpen()) {
              this.link.control("_client.unsubscribe", { topic: state.pattern }).catch(() => void 0);
            }
            return;
          }
          state.subscribed = true;
          state.settleReady();
        },
        (error) => {
          if (this.patterns.get(state.pattern) !== state) return;
          const wsmqError = error instanceof WsmqError ? error : wrapError("INTERNAL", "subscribe failed", error);
          if (wsmqError.code === "DISCONNECTED") return;
          state.settleReady(wsmqError);
          this.link.report(
            new WsmqError(wsmqError.code, `subscribe ${state.pattern} failed: ${wsmqError.message}`, {
              topic: state.pattern,
              details: wsmqError.details,
              remote: wsmqError.remote
            })
          );
        }
      );
    }
  };

  // ../../typescript/src/transport.ts
  var OPEN = 1;
  function resolveWebSocket(injected) {
    if (injected !== void 0) return injected;
    const global = globalThis.WebSocket;
    if (global === void 0) {
      throw new WsmqError(
        "INTERNAL",
        "no global WebSocket here: pass one, e.g. new WebSocketMQ(url, { WebSocket }) with WebSocket from the 'ws' package"
      );
    }
    return global;
  }
  function abandonSocket(socket, code, reason) {
    socket.onopen = socket.onmessage = socket.onclose = null;
    socket.onerror = () => void 0;
    try {
      socket.close(code, reason);
    } catch {
    }
  }

  // ../../typescript/src/client.ts
  var CLOSE_TIMEOUT_MS = 2e3;
  var now = () => globalThis.performance.now();
  var WebSocketMQ = class {
    constructor(url, options = {}) {
      /** Called once registration is acknowledged, on the first connection and every reconnection. */
      __publicField(this, "onOpen", null);
      /** Called with transport errors, broken frames, failed subscriptions and handler errors. */
      __publicField(this, "onError", null);
      /** Called when an open connection ends (`info.willReconnect` tells whether it comes back). */
      __publicField(this, "onClose", null);
      __publicField(this, "url");
      __publicField(this, "settings");
      __publicField(this, "lifecycle");
      __publicField(this, "encoder", new FrameEncoder());
      __publicField(this, "pending");
      __publicField(this, "outbox");
      __publicField(this, "subscriptions");
      __publicField(this, "runner");
      __publicField(this, "emitter", new Emitter());
      /** Paces events and requests below the broker's announced rate (docs/concepts.md). */
      __publicField(this, "pacer", new Pacer());
      __publicField(this, "pumpTimer");
      __publicField(this, "currentStatus", { state: "idle" });
      __publicField(this, "socket", null);
      __publicField(this, "registration", null);
      __publicField(this, "resume", null);
      /** The `UNAUTHENTICATED` error the broker sent while we were registering, if any. */
      __publicField(this, "authError", null);
      /** Why the current socket failed to open (its error event), if it did. */
      __publicField(this, "attemptFailure", null);
      /** The last failed attempt's error: what connect() rejects with when the client gives up. */
      __publicField(this, "lastFailure", null);
      __publicField(this, "reconnectTimer");
      __publicField(this, "registerTimer");
      __publicField(this, "pingTimer");
      __publicField(this, "connectWaiters", []);
      __publicField(this, "closeWaiters", []);
      this.url = url;
      this.settings = resolveOptions(options);
      this.encoder.traceparent = options.traceparent;
      this.lifecycle = new Reconnection(this.settings);
      this.outbox = new Outbox(this.settings.maxQueuedMessages);
      this.pending = new PendingTable((pending, sentOn) => this.gaveUp(pending, sentOn));
      this.subscriptions = new Subscriptions({
        isOpen: () => this.isOpen,
        control: (topic, body) => this.control(topic, body),
        report: (error) => this.emit("error", error)
      });
      this.runner = new HandlerRunner(this.subscriptions, this.encoder, (error) => this.emit("error", error));
      resolveWebSocket(this.settings.WebSocket);
    }
    /** The broker-assigned client ID of the current (or last) registration; null before the first. */
    get clientId() {
      return this.resume?.brokerClientID ?? null;
    }
    /** Current connection status. */
    get status() {
      return this.currentStatus;
    }
    /** True when registered and ready to send. */
    get isOpen() {
      return this.currentStatus.state === "open";
    }
    /** Listen to a lifecycle event; returns a function that removes the listener. */
    on(event, listener) {
      return this.emitter.on(event, listener);
    }
    /**
     * Open the connection (and keep it open, reconnecting as needed). Resolves once registered.
     * Rejects with a {@link WsmqError} (`DISCONNECTED`, `details.reason` saying why) at once on a
     * permanent failure — an invalid URL (`bad-url`), an HTTP 4xx answer to the upgrade
     * (`http-status`, e.g. 404: wrong path; 403: Origin refused), a server without the wsmq
     * subprotocol (`not-wsmq`) — and when the client is closed or gives up
     * (`maxReconnectAttempts`) before it ever opens. Transient failures (connection refused, 5xx,
     * 429, network errors, no registration ack in time) are retried with backoff and reported to
     * `onError`. Browsers do not expose the HTTP status of a failed upgrade, so there every failure
     * is transient. Calling it again while connecting or open returns the same outcome without
     * opening a second socket.
     */
    connect() {
      const promise = new Promise((resolve, reject) => {
        if (this.currentStatus.state === "open") {
          resolve();
          return;
        }
        this.connectWaiters.push({ resolve, reject });
      });
      promise.catch(() => void 0);
      const state = this.currentStatus.state;
      if (state === "idle" || state === "closed") {
        this.lastFailure = null;
        this.lifecycle.start();
        this.openSocket();
      }
      return promise;
    }
    /**
     * Close for good: no reconnect; pending and queued requests reject with `DISCONNECTED`.
     * Resolves once the socket has closed, or after 2 s when the broker does not answer the close
     * handshake (the socket is then dropped). `connect()` may be called again later.
     */
    close(code = 1e3, reason = "client closed") {
      this.lifecycle.closing = true;
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = void 0;
      const socket = this.socket;
      if (socket === null) {
        this.finishClosed({ code, reason });
        return Promise.resolve();
      }
      const closed = new Promise((resolve) => this.closeWaiters.push(resolve));
      socket.onerror = () => void 0;
      try {
        socket.close(code, reason);
      } catch {
        this.socketEnded(socket, { code, reason, wasClean: false });
        return closed;
      }
      const timer = setTimeout(() => {
        if (socket !== this.socket) return;
        socket.onopen = socket.onmessage = socket.onclose = null;
        socket.terminate?.();
        this.socketEnded(socket, { code, reason, wasClean: false });
      }, CLOSE_TIMEOUT_MS);
      void closed.then(() => clearTimeout(timer));
      return closed;
    }
    /**
     * Publish an event (fire-and-forget). Queued until the connection is open.
     * Throws `BAD_TOPIC` for a wildcard or malformed topic, `BAD_MESSAGE` for a body JSON cannot
     * encode, `TOO_LARGE` above the broker's `maxMessageSize`, `DISCONNECTED` after `close()` and
     * `RATE_LIMITED` when not connected and `maxQueuedMessages` messages are already queued.
     */
    publish(topic, body = null) {
      const problem2 = topicProblem(topic, false);
      if (problem2 !== null) throw new WsmqError("BAD_TOPIC", problem2, { topic });
      const refused = this.refusal(topic, true);
      if (refused !== null) throw refused;
      let frame;
      try {
        frame = this.encoder.encode("event", topic, body);
      } catch (error) {
        throw wrapError("BAD_MESSAGE", "cannot encode body", error);
      }
      this.encoder.checkSize(frame, topic);
      this.sendOrQueue({ frame });
    }
    /**
     * Send a request and wait for its answer: resolves with the response body, rejects with a
     * {@link WsmqError} (`TIMEOUT`, `NO_HANDLER`, `DISCONNECTED`, the handler's own code, …);
     * at once with `RATE_LIMITED` when it would have to wait in a full queue (`maxQueuedMessages`).
     * `timeout` is milliseconds (the seed's third argument) or {@link RequestOptions}.
     */
    request(topic, body = null, timeout) {
      const options = typeof timeout === "number" ? { timeoutMs: timeout } : timeout ?? {};
      const problem2 = topicProblem(topic, false);
      if (problem2 !== null) return Promise.reject(new WsmqError("BAD_TOPIC", problem2, { topic }));
      return this.sendRequest(topic, body, options, true);
    }
    /**
     * Handle messages on `pattern` (`*` = one token, `>` = the rest): events published on matching
     * topics, and server→client requests, which the handler answers with its return value.
     * Returns a function that unsubscribes (its `ready` promise settles on the broker's answer).
     *
     * Subscribing the same handler function to the same pattern again is a no-op that returns
     * the first call's unsubscribe function (with `echo: true` it also turns echo on), so code
     * that subscribes inside `onOpen` — which runs on every reconnect — does not stack handlers.
     * A different function (e.g. a new arrow function each time) is a second handler.
     */
    subscribe(pattern, handler, options = {}) {
      const problem2 = topicProblem(pattern, true);
      if (problem2 !== null) throw new WsmqError("BAD_TOPIC", problem2, { topic: pattern });
      return this.subscriptions.add(pattern, handler, options);
    }
    // ---------------------------------------------------------------- sending
    /** Can a frame go out now (else it would wait in the outbox)? */
    get canSend() {
      return this.socket !== null && this.isOpen && this.socket.readyState === OPEN;
    }
    /**
     * Why a new publish or request cannot be accepted now, or null: the client is closed, or the
     * message would have to wait in a full outbox (`bounded` is false for the client's own control
     * requests: one per pattern, never flooding).
     */
    refusal(topic, bounded) {
      const state = this.currentStatus.state;
      if (state === "idle" || state === "closed") {
        const why = state === "idle" ? "not connected" : "client is closed";
        return new WsmqError("DISCONNECTED", `${why}: call connect() first (nothing was sent)`, {
          topic,
          details: { reason: "not-connected" }
        });
      }
      return bounded && (!this.canSend || this.outbox.size > 0) ? this.outbox.fullError(topic) : null;
    }
    rawSend(socket, frame) {
      try {
        socket.send(frame);
      } catch (error) {
        this.emit("error", wrapError("DISCONNECTED", "send failed", error));
      }
    }
    /**
     * An event or request: sent now when the link is open, nothing waits before it and the pacer
     * has a token; else queued (in order) and sent by {@link pump}.
     */
    sendOrQueue(item) {
      const socket = this.socket;
      if (socket !== null && this.canSend && this.outbox.size === 0 && this.pacer.take(now()) === 0) {
        this.transmit(socket, item);
        return;
      }
      this.outbox.push(item);
      this.pump();
    }
    /** Send queued frames while the pacer has tokens; when it has none, come back when it will. */
    pump() {
      const socket = this.socket;
      if (this.pumpTimer !== void 0 || socket === null || !this.canSend) return;
      for (let item = this.outbox.peek(); item !== void 0; item = this.outbox.peek()) {
        if (item.pending !== void 0 && !this.pending.has(item.pending.correlationID)) {
          this.outbox.shift();
          continue;
        }
        const wait = this.pacer.take(now());
        if (wait > 0) {
          this.pumpTimer = setTimeout(() => {
            this.pumpTimer = void 0;
            this.pump();
          }, Math.ceil(wait));
          return;
        }
        this.outbox.shift();
        this.transmit(socket, item);
      }
    }
    /** Write one paced frame (a request learns the socket it went out on). */
    transmit(socket, item) {
      if (item.pending !== void 0) item.pending.sentOn = socket;
      this.rawSend(socket, item.frame);
    }
    /**
     * A `RATE_LIMITED` for the message rate (§12.1): the broker dropped the message unprocessed.
     * The pacer slows down; a request still waiting is re-sent through it (true: handled here),
     * an event's refusal goes on to be reported.
     */
    refusedForRate(envelope) {
      if (envelope.header.type !== "error") return false;
      const { code, details } = readErrorBody(envelope.body);
      if (code !== "RATE_LIMITED" || details?.reason !== "message-rate") return false;
      this.pacer.limited(now());
      const pending = this.pending.get(envelope.header.correlationID ?? "");
      if (pending === void 0 || pending.frame === "") return false;
      pending.sentOn = null;
      this.outbox.push({ frame: pending.frame, pending });
      this.pump();
      return true;
    }
    sendRequest(topic, body, options, bounded) {
      const timeoutMs = requestTimeout(options.timeoutMs, this.settings.requestTimeoutMs);
      const refused = this.refusal(topic, bounded);
      if (refused !== null) return Promise.reject(refused);
      if (options.signal?.aborted === true) {
        return Promise.reject(new WsmqError("CANCELLED", "request aborted before it was sent", { topic }));
      }
      const correlationID = this.encoder.nextId();
      let frame;
      try {
        frame = this.encoder.encode("request", topic, body, { messageID: correlationID, correlationID, ttl: ttlFor(timeoutMs) });
        this.encoder.checkSize(frame, topic);
      } catch (error) {
        return Promise.reject(error instanceof WsmqError ? error : wrapError("BAD_MESSAGE", "cannot encode body", error));
      }
      const { pending, promise } = this.pending.open(correlationID, topic, timeoutMs, options.signal);
      pending.frame = frame;
      this.sendOrQueue({ frame, pending });
      return promise;
    }
    /** The caller stopped waiting (timeout, abort): drop the queued frame or tell the broker (§8.8). */
    gaveUp(pending, sentOn) {
      if (sentOn === null) {
        this.outbox.drop(pending);
      } else if (sentOn === this.socket && this.isOpen) {
        this.pacer.spend(now());
        this.rawSend(sentOn, this.encoder.encode("event", "_client.cancel", { correlationID: pending.correlationID }));
      }
    }
    control(topic, body, timeoutMs) {
      const options = timeoutMs === void 0 ? {} : { timeoutMs };
      return this.sendRequest(topic, body, options, false);
    }
    // ---------------------------------------------------------------- receiving
    /** One inbound text frame: classified once, acted on here (one path per message). */
    receive(socket, data) {
      const inbound = classify(data);
      switch (inbound.kind) {
        case "answer": {
          if (this.refusedForRate(inbound.envelope)) return;
          const outcome = this.pending.receive(inbound.envelope);
          if (outcome.kind === "late") return;
          const error = outcome.error;
          if (error?.code === "UNAUTHENTICATED" && this.currentStatus.state === "registering") this.authError = error;
          if (outcome.kind === "unmatched" && error !== null) this.emit("error", error);
          return;
        }
        case "registered":
          this.onRegistered(socket, inbound.ack);
          return;
        case "cancel":
          this.runner.cancel(inbound.notice);
          return;
        case "event":
          this.runner.deliver(inbound.envelope);
          return;
        case "request":
          void this.runner.answer(inbound.envelope, (frame) => {
            if (socket === this.socket) this.rawSend(socket, frame);
          });
          return;
        case "bad":
          this.emit("error", new WsmqError("BAD_MESSAGE", inbound.problem));
          return;
        case "ignored":
          return;
        default:
          inbound;
      }
    }
    // ---------------------------------------------------------------- connection lifecycle
    setStatus(status) {
      this.currentStatus = status;
      this.emit("status", status);
    }
    emit(event, payload) {
      const property = event === "open" ? this.onOpen : event === "close" ? this.onClose : event === "error" ? this.onError : null;
      this.emitter.emit(event, payload, property, (error) => {
        if (event !== "error") this.emit("error", wrapError("INTERNAL", "listener threw", error));
      });
    }
    openSocket() {
      const attempt = this.lifecycle.nextAttempt();
      this.setStatus({ state: "connecting", attempt });
      let socket;
      try {
        socket = new (resolveWebSocket(this.settings.WebSocket))(this.url, this.settings.protocols);
      } catch (error) {
        const failed = classifyFailure(this.url, error, void 0);
        this.lastFailure = failed.error;
        this.emit("error", failed.error);
        this.afterLoss({ code: 1006, reason: failed.error.message, wasClean: false }, false, failed.error, failed);
        return;
      }
      this.socket = socket;
      this.registerTimer = setTimeout(() => {
        const ms = this.settings.connectTimeoutMs;
        this.dropSocket(socket, `no registration acknowledgement from ${this.url} within ${ms} ms (is it a wsmq broker?)`);
      }, this.settings.connectTimeoutMs);
      this.authError = null;
      this.attemptFailure = null;
      socket.onopen = () => {
        if (socket !== this.socket) return;
        this.setStatus({ state: "registering", attempt });
        void this.register(socket);
      };
      socket.onmessage = (event) => {
        if (socket !== this.socket) return;
        if (typeof event.data !== "string") {
          this.emit("error", new WsmqError("BAD_MESSAGE", "binary frame received; wsmq/1 uses text frames"));
          return;
        }
        this.receive(socket, event.data);
      };
      socket.onerror = (event) => {
        if (socket !== this.socket) return;
        if (this.currentStatus.state === "connecting") {
          this.attemptFailure = classifyFailure(this.url, void 0, event);
          this.lastFailure = this.attemptFailure.error;
          this.emit("error", this.attemptFailure.error);
          return;
        }
        const detail = event?.message;
        this.emit("error", new WsmqError("DISCONNECTED", `WebSocket error${typeof detail === "string" && detail ? `: ${detail}` : ""}`));
      };
      socket.onclose = (event) => {
        this.socketEnded(socket, { code: event.code, reason: event.reason, wasClean: event.wasClean ?? event.code === 1e3 });
      };
    }
    /**
     * §6.2: register first, resuming the last identity if we have one (§6.4), with the credential
     * when the broker authenticates by first message (§12.3). The credential is fetched here, per
     * connection, so a function can hand out a fresh token on every reconnect.
     */
    async register(socket) {
      const body = {};
      const auth = this.settings.auth;
      if (auth !== void 0) {
        let credential;
        try {
          credential = typeof auth === "function" ? await auth() : auth;
        } catch (error) {
          if (socket !== this.socket) return;
          this.emit("error", wrapError("UNAUTHENTICATED", "the auth option failed", error));
          this.dropSocket(socket, "no credential to register with");
          return;
        }
        if (socket !== this.socket) return;
        if (credential !== void 0) body.auth = credential;
      }
      if (this.settings.pageSessionID !== void 0) body.pageSessionID = this.settings.pageSessionID;
      if (this.resume !== null) {
        body.brokerClientID = this.resume.brokerClientID;
        body.resumeToken = this.resume.resumeToken;
      }
      this.rawSend(socket, this.encoder.encode("event", "_client.register", body));
    }
    onRegistered(socket, ack) {
      clearTimeout(this.registerTimer);
      this.registration = ack;
      this.encoder.maxMessageSize = ack.maxMessageSize ?? 0;
      this.resume = { brokerClientID: ack.brokerClientID, resumeToken: ack.resumeToken };
      this.lifecycle.registered();
      this.lastFailure = null;
      this.pacer.configure(ack.messageRate, ack.messageBurst, now());
      this.setStatus({ state: "open", clientId: ack.brokerClientID, resumed: ack.resumed });
      const queued = this.outbox.drain();
      this.subscriptions.resubscribe();
      for (const item of queued) this.outbox.push(item);
      this.pump();
      this.schedulePing(socket);
      for (const waiter of this.connectWaiters.splice(0)) waiter.resolve();
      this.emit("open", { clientId: ack.brokerClientID, resumed: ack.resumed, registration: ack });
    }
    /** Application keepalive (§9 `_client.ping`): browsers cannot send WebSocket pings. */
    schedulePing(socket) {
      const interval = this.settings.pingIntervalMs ?? this.registration?.pingInterval ?? 0;
      if (!(interval > 0) || socket !== this.socket) return;
      this.pingTimer = setTimeout(() => {
        if (socket !== this.socket) return;
        this.control("_client.ping", {}, interval).then(
          () => this.schedulePing(socket),
          (error) => {
            if (error instanceof WsmqError && error.code === "TIMEOUT") {
              this.dropSocket(socket, "keepalive ping not answered");
            } else {
              this.schedulePing(socket);
            }
          }
        );
      }, interval);
    }
    /** Give up on a socket that looks dead (missed ping, no ack): don't wait for its close event. */
    dropSocket(socket, reason) {
      if (socket !== this.socket) return;
      abandonSocket(socket, 4e3, reason);
      const error = new WsmqError("DISCONNECTED", reason, { details: { url: this.url, reason: "timeout" } });
      if (this.currentStatus.state !== "open") this.lastFailure = error;
      this.emit("error", error);
      this.socketEnded(socket, { code: 1006, reason, wasClean: false });
    }
    /** The current socket ended: everything that waited on it settles (§8.9), then the next step. */
    socketEnded(socket, end) {
      if (socket !== this.socket) return;
      this.socket = null;
      clearTimeout(this.registerTimer);
      clearTimeout(this.pingTimer);
      clearTimeout(this.pumpTimer);
      this.pumpTimer = void 0;
      const wasOpen = this.currentStatus.state === "open";
      const lost = new WsmqError("DISCONNECTED", `connection closed (${end.code}${end.reason ? ` ${end.reason}` : ""})`);
      this.pending.failSentOn(socket, lost);
      this.runner.abortAll(lost);
      this.subscriptions.linkLost();
      const failure2 = this.attemptFailure;
      this.attemptFailure = null;
      this.afterLoss(end, wasOpen, failure2?.error ?? lost, failure2);
    }
    afterLoss(end, wasOpen, error, failure2 = null) {
      const step = this.lifecycle.afterLoss(end, wasOpen, failure2);
      if (step.kind === "close") {
        this.finishClosed(end);
        if (wasOpen) this.emit("close", { ...end, willReconnect: false });
        return;
      }
      this.setStatus({ state: "reconnecting", attempt: step.attempt, delayMs: step.delayMs, error });
      if (wasOpen) this.emit("close", { ...end, willReconnect: true });
      if (this.lifecycle.closing) return;
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = void 0;
        if (!this.lifecycle.closing) this.openSocket();
      }, step.delayMs);
    }
    finishClosed(end) {
      const error = new WsmqError("DISCONNECTED", "client closed");
      this.pending.failAll(error);
      this.outbox.drain();
      this.subscriptions.linkLost();
      if (this.currentStatus.state !== "closed") this.setStatus({ state: "closed", code: end.code, reason: end.reason });
      const reason = this.authError ?? this.lastFailure ?? error;
      for (const waiter of this.connectWaiters.splice(0)) waiter.reject(reason);
      for (const waiter of this.closeWaiters.splice(0)) waiter();
    }
  };

  // ../../typescript/src/sdk.ts
  var patternCache2 = /* @__PURE__ */ new Map();
  var BAD_PARAM = /[\s.*>\u0000-\u001f\u007f]/u;
  function escapeToken(token) {
    return token.replace(/~/g, "~0").replace(/\//g, "~1");
  }
  function codePoints(s) {
    let n = 0;
    for (const _ of s) n += 1;
    return n;
  }
  function kindOf(value) {
    if (value === null) return "null";
    if (Array.isArray(value)) return "array";
    if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
    return typeof value;
  }
  function problem(pointer, rule, message) {
    return { pointer, rule, message };
  }
  function checkNumber(schema, value, pointer) {
    if (schema.minimum !== void 0 && value < schema.minimum) return problem(pointer, "minimum", `expected >= ${schema.minimum}`);
    if (schema.maximum !== void 0 && value > schema.maximum) return problem(pointer, "maximum", `expected <= ${schema.maximum}`);
    if (schema.exclusiveMinimum !== void 0 && value <= schema.exclusiveMinimum) {
      return problem(pointer, "exclusiveMinimum", `expected > ${schema.exclusiveMinimum}`);
    }
    if (schema.exclusiveMaximum !== void 0 && value >= schema.exclusiveMaximum) {
      return problem(pointer, "exclusiveMaximum", `expected < ${schema.exclusiveMaximum}`);
    }
    return null;
  }
  function checkString(schema, value, pointer) {
    if (schema.enum !== void 0 && !schema.enum.includes(value)) return problem(pointer, "enum", `${JSON.stringify(value)} is not one of ${schema.enum.join(", ")}`);
    const length = schema.minLength !== void 0 || schema.maxLength !== void 0 ? codePoints(value) : 0;
    if (schema.minLength !== void 0 && length < schema.minLength) return problem(pointer, "minLength", `expected length >= ${schema.minLength}`);
    if (schema.maxLength !== void 0 && length > schema.maxLength) return problem(pointer, "maxLength", `expected length <= ${schema.maxLength}`);
    if (schema.pattern !== void 0) {
      let re = patternCache2.get(schema.pattern);
      if (re === void 0) {
        re = new RegExp(schema.pattern, "u");
        patternCache2.set(schema.pattern, re);
      }
      if (!re.test(value)) return problem(pointer, "pattern", `expected a string matching ${schema.pattern}`);
    }
    return null;
  }
  function checkBody(schemas, schema, value, pointer = "") {
    if (schema.$ref !== void 0) {
      const target = schemas[schema.$ref.slice(schema.$ref.lastIndexOf("/") + 1)];
      if (target === void 0) return problem(pointer, "$ref", `unknown type ${schema.$ref}`);
      return checkBody(schemas, target, value, pointer);
    }
    const kind = kindOf(value);
    const expected = schema.type;
    const fits = expected === void 0 || expected === kind || expected === "number" && kind === "integer";
    if (!fits || kind === "number" && !Number.isFinite(value)) {
      return problem(pointer, "type", `expected ${expected ?? "a value"}, got ${kind}`);
    }
    if (typeof value === "number") return checkNumber(schema, value, pointer);
    if (typeof value === "string") return checkString(schema, value, pointer);
    if (Array.isArray(value)) {
      if (schema.minItems !== void 0 && value.length < schema.minItems) return problem(pointer, "minItems", `expected at least ${schema.minItems} items`);
      if (schema.maxItems !== void 0 && value.length > schema.maxItems) return problem(pointer, "maxItems", `expected at most ${schema.maxItems} items`);
      if (schema.items !== void 0) {
        for (let i = 0; i < value.length; i += 1) {
          const found = checkBody(schemas, schema.items, value[i], `${pointer}/${i}`);
          if (found !== null) return found;
        }
      }
      return null;
    }
    if (kind === "object" && schema.properties !== void 0) {
      const object = value;
      for (const key of Object.keys(object)) {
        const sub = Object.prototype.hasOwnProperty.call(schema.properties, key) ? schema.properties[key] : void 0;
        if (sub !== void 0) {
          const found = checkBody(schemas, sub, object[key], `${pointer}/${escapeToken(key)}`);
          if (found !== null) return found;
        } else if (schema.additionalProperties === false) {
          return problem(pointer, "additionalProperties", `unknown member ${JSON.stringify(key)}`);
        }
      }
      for (const name of Object.keys(schema.properties)) {
        if (schema.required?.includes(name) === true && !Object.prototype.hasOwnProperty.call(object, name)) {
          return problem(pointer, "required", `missing required member ${JSON.stringify(name)}`);
        }
      }
    }
    return null;
  }
  function topicOf(endpoint, values, pattern = false) {
    return endpoint.topic.split(".").map((token) => {
      if (!token.startsWith("{")) return token;
      const value = values[token.slice(1, -1)];
      if (value === void 0 && pattern) return "*";
      if (value === void 0 || value === "" || BAD_PARAM.test(value)) {
        throw new WsmqError("BAD_TOPIC", `parameter ${token} of ${endpoint.topic} must be one topic token: ${JSON.stringify(value)}`, { topic: endpoint.topic });
      }
      return value;
    }).join(".");
  }
  function paramsOf(endpoint, topic) {
    if (endpoint.params.length === 0) return [];
    const tokens = topic.split(".");
    const out = [];
    endpoint.topic.split(".").forEach((token, i) => {
      if (token.startsWith("{")) out.push(tokens[i] ?? "");
    });
    return out;
  }
  var SdkClient = class {
    constructor(client2, schemas, options = {}) {
      __publicField(this, "client");
      __publicField(this, "schemas");
      __publicField(this, "onInvalid");
      this.client = client2;
      this.schemas = schemas;
      this.onInvalid = options.onInvalid ?? ((error) => client2.onError?.(error));
    }
    /** The body as type `T` when it fits schema `name`; else an `INVALID_BODY` error (local). */
    check(name, value, topic, what = "body") {
      const schema = this.schemas[name];
      if (schema === void 0) throw new WsmqError("INTERNAL", `no schema ${name}`);
      const found = checkBody(this.schemas, schema, value);
      if (found !== null) {
        throw new WsmqError("INVALID_BODY", `${what} of ${topic} breaks its schema at ${found.pointer || "the body"}: ${found.message}`, {
          details: { pointer: found.pointer, rule: found.rule, topic },
          topic
        });
      }
      return value;
    }
    topicFor(endpoint, args) {
      const values = {};
      endpoint.params.forEach((name, i) => {
        const value = args[i];
        if (value !== void 0) values[name] = value;
      });
      return topicOf(endpoint, values);
    }
    async call(endpoint, args, body, options) {
      const topic = this.topicFor(endpoint, args);
      this.check(endpoint.body, body, topic);
      let raw;
      try {
        raw = await this.client.request(topic, body, options);
      } catch (error) {
        if (isWsmqError(error)) {
          const Declared = endpoint.errors[error.code];
          if (Declared !== void 0) {
            throw new Declared(error.message, { details: error.details, correlationID: error.correlationID, topic, remote: error.remote, cause: error });
          }
        }
        throw error;
      }
      return this.check(endpoint.response ?? "", raw, topic, "response");
    }
    publishTo(endpoint, args, body) {
      const topic = this.topicFor(endpoint, args);
      this.check(endpoint.body, body, topic);
      this.client.publish(topic, body);
    }
    subscribeTo(endpoint, handler, filter) {
      return this.client.subscribe(topicOf(endpoint, filter, true), (body, context) => {
        let checked;
        try {
          checked = this.check(endpoint.body, body, context.topic);
        } catch (error) {
          this.onInvalid(error);
          return void 0;
        }
        return handler(checked, ...paramsOf(endpoint, context.topic));
      });
    }
    handleWith(endpoint, handler) {
      return this.client.subscribe(topicOf(endpoint, {}, true), async (body, context) => {
        let checked;
        try {
          checked = this.check(endpoint.body, body, context.topic);
        } catch (error) {
          this.onInvalid(error);
          throw error;
        }
        const result = await handler(checked, ...paramsOf(endpoint, context.topic));
        try {
          return this.check(endpoint.response ?? "", result, context.topic, "response");
        } catch (error) {
          const details = error.details;
          throw new WsmqError("INTERNAL", error.message, { details });
        }
      });
    }
  };

  // ../page.ts
  function $(id) {
    const el = document.getElementById(id);
    if (el === null) throw new Error(`no #${id}`);
    return el;
  }
  function showConnection(client2) {
    client2.onOpen = ({ clientId }) => {
      $("state").dataset["state"] = "connected";
      $("state").textContent = "connected";
      $("client-id").textContent = clientId;
    };
    client2.onClose = () => {
      $("state").dataset["state"] = "disconnected";
      $("state").textContent = "disconnected";
    };
  }

  // web/sdk/types.ts
  var DASHBOARD_SCHEMAS = {
    "Metrics": {
      "type": "object",
      "required": [
        "seq",
        "queued",
        "processed",
        "workers",
        "load"
      ],
      "properties": {
        "seq": {
          "type": "integer",
          "minimum": 1
        },
        "queued": {
          "type": "integer",
          "minimum": 0
        },
        "processed": {
          "type": "integer",
          "minimum": 0
        },
        "workers": {
          "type": "integer",
          "minimum": 0,
          "maximum": 64
        },
        "load": {
          "type": "number",
          "minimum": 0,
          "maximum": 1
        }
      },
      "additionalProperties": false
    },
    "Action": {
      "type": "string",
      "enum": [
        "flush-queue",
        "add-worker",
        "remove-worker"
      ]
    },
    "ActionsRunRequest": {
      "type": "object",
      "required": [
        "action"
      ],
      "properties": {
        "action": {
          "$ref": "#/types/Action"
        }
      },
      "additionalProperties": false
    },
    "ActionsRunResponse": {
      "type": "object",
      "required": [
        "done",
        "detail"
      ],
      "properties": {
        "done": {
          "type": "boolean"
        },
        "detail": {
          "type": "string"
        }
      },
      "additionalProperties": false
    },
    "UiConfirmRequest": {
      "type": "object",
      "required": [
        "action",
        "question"
      ],
      "properties": {
        "action": {
          "$ref": "#/types/Action"
        },
        "question": {
          "type": "string",
          "maxLength": 200
        }
      },
      "additionalProperties": false
    },
    "UiConfirmResponse": {
      "type": "object",
      "required": [
        "confirmed"
      ],
      "properties": {
        "confirmed": {
          "type": "boolean"
        }
      },
      "additionalProperties": false
    },
    "ActionsLogEvent": {
      "type": "object",
      "required": [
        "action",
        "by",
        "outcome"
      ],
      "properties": {
        "action": {
          "$ref": "#/types/Action"
        },
        "by": {
          "type": "string"
        },
        "outcome": {
          "type": "string"
        }
      },
      "additionalProperties": false
    }
  };

  // web/sdk/client.ts
  var NotPossible = class extends WsmqError {
    constructor(message, init = {}) {
      super("NOT_POSSIBLE", message, init);
    }
  };
  var METRICS_TICK = {
    topic: "metrics.tick",
    body: "Metrics",
    response: null,
    errors: {},
    params: []
  };
  var ACTIONS_RUN = {
    topic: "actions.run",
    body: "ActionsRunRequest",
    response: "ActionsRunResponse",
    errors: { NOT_POSSIBLE: NotPossible },
    params: []
  };
  var UI_CONFIRM = {
    topic: "ui.confirm",
    body: "UiConfirmRequest",
    response: "UiConfirmResponse",
    errors: {},
    params: []
  };
  var ACTIONS_LOG = {
    topic: "actions.log",
    body: "ActionsLogEvent",
    response: null,
    errors: {},
    params: []
  };
  var DashboardClient = class extends SdkClient {
    constructor(client2, options = {}) {
      super(client2, DASHBOARD_SCHEMAS, options);
    }
    /** Receive `metrics.tick` events: The latest sample, a few times a second. */
    subscribeMetricsTick(handler) {
      return this.subscribeTo(METRICS_TICK, handler, {});
    }
    /** Ask the server to run an action; it first asks this page to confirm (ui.confirm). (request `actions.run`); rejects with NotPossible. */
    actionsRun(body, options) {
      return this.call(ACTIONS_RUN, [], body, options);
    }
    /** Answer the server's `ui.confirm` requests: The server asks one page to confirm an action before it runs it. */
    handleUiConfirm(handler) {
      return this.handleWith(UI_CONFIRM, handler);
    }
    /** Receive `actions.log` events: What was done, by whom, for every page's log. */
    subscribeActionsLog(handler) {
      return this.subscribeTo(ACTIONS_LOG, handler, {});
    }
  };

  // web/app.ts
  var client = new WebSocketMQ(`ws://${location.host}/ws`);
  var api = new DashboardClient(client);
  var HISTORY = 60;
  showConnection(client);
  function draw(m) {
    $("seq").textContent = String(m.seq);
    $("queued").textContent = String(m.queued);
    $("processed").textContent = String(m.processed);
    $("workers").textContent = String(m.workers);
    $("load").textContent = `${Math.round(m.load * 100)}%`;
    $("load-fill").style.width = `${Math.round(m.load * 100)}%`;
    const bar = document.createElement("div");
    bar.style.height = `${Math.min(60, 2 + m.queued / 2)}px`;
    bar.title = `#${m.seq}: ${m.queued} queued`;
    $("history").append(bar);
    while ($("history").childElementCount > HISTORY) $("history").firstElementChild?.remove();
  }
  api.subscribeMetricsTick(draw);
  api.subscribeActionsLog((entry) => {
    const li = document.createElement("li");
    li.dataset["action"] = entry.action;
    const who = entry.by === client.clientId ? "you" : entry.by;
    li.textContent = `${entry.action} by ${who}: ${entry.outcome}`;
    $("log").prepend(li);
  });
  api.handleUiConfirm(
    (ask) => new Promise((resolve) => {
      $("confirm-question").textContent = ask.question;
      $("confirm").dataset["action"] = ask.action;
      $("confirm").dataset["open"] = "";
      const answer = (confirmed) => () => {
        delete $("confirm").dataset["open"];
        resolve({ confirmed });
      };
      $("confirm-yes").onclick = answer(true);
      $("confirm-no").onclick = answer(false);
    })
  );
  function run(action) {
    const result = $("result");
    result.className = "pending";
    result.textContent = `${action}: waiting for confirmation…`;
    api.actionsRun({ action }, { timeoutMs: 9e4 }).then((r) => {
      result.className = r.done ? "ok" : "error";
      result.textContent = `${action}: ${r.detail}`;
    }).catch((error) => {
      result.className = "error";
      if (error instanceof NotPossible) result.textContent = `${action}: not possible: ${error.message}`;
      else result.textContent = isWsmqError(error) ? `${error.code}: ${error.message}` : String(error);
    });
  }
  for (const action of ["add-worker", "remove-worker", "flush-queue"]) {
    $(action).addEventListener("click", () => run(action));
  }
  void client.connect();
})();
