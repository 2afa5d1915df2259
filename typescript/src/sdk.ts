/**
 * Runtime support of SDKs generated from an application catalogue (spec/catalogue.md §7).
 *
 * A generated `<Name>Client` extends {@link SdkClient}: each method names its {@link Endpoint}
 * and calls one of the protected helpers here, which check every body that arrives (responses,
 * events, server→client requests) against the catalogue's schemas before the caller or a
 * handler sees it, and every body sent before it leaves. A body that breaks its schema is an
 * `INVALID_BODY` {@link WsmqError} whose `details` are `{pointer, rule, topic}`: the same JSON
 * pointer and JSON Schema keyword the Python SDK reports. The schemas are generated data
 * (`<NAME>_SCHEMAS`) interpreted by {@link checkBody} for exactly the keyword subset of
 * spec/catalogue.md §5; no JSON Schema library runs per message.
 */
import type { RequestOptions, Unsubscribe, WebSocketMQ } from './client.js';
import { WsmqError, isWsmqError } from './errors.js';
import type { WsmqErrorInit } from './errors.js';

/** The JSON Schema subset of spec/catalogue.md §5 (annotations stripped by the generator). */
export interface Schema {
  readonly $ref?: string;
  readonly type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null';
  readonly properties?: { readonly [name: string]: Schema };
  readonly required?: readonly string[];
  readonly additionalProperties?: false;
  readonly items?: Schema;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly enum?: readonly string[];
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
}

/** Every named schema of a catalogue, by generated type name (refs are `#/types/Name`). */
export type Schemas = { readonly [name: string]: Schema };

/** Where a body breaks its schema: RFC 6901 pointer, JSON Schema keyword, human text. */
export interface BodyProblem {
  readonly pointer: string;
  readonly rule: string;
  readonly message: string;
}

/** The constructor of a generated exception class for a declared error code. */
export type DeclaredErrorClass = new (message: string, init?: WsmqErrorInit) => WsmqError;

/** One catalogue topic as the runtime needs it (generated, one per operation). */
export interface Endpoint {
  /** The template: `chat.{room}.message`. */
  readonly topic: string;
  /** Generated type name of the body. */
  readonly body: string;
  /** Generated type name of the response (requests only). */
  readonly response: string | null;
  readonly errors: { readonly [code: string]: DeclaredErrorClass };
  readonly params: readonly string[];
}

export interface SdkOptions {
  /** Gets every arriving event or server request whose body breaks its schema; such messages
   * never reach a handler. Default: the client's `onError`. */
  onInvalid?: (error: WsmqError) => void;
}

const patternCache = new Map<string, RegExp>();
// eslint-disable-next-line no-control-regex -- control characters are what this rejects
const BAD_PARAM = /[\s.*>\u0000-\u001f\u007f]/u;

function escapeToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n += 1;
  return n;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function problem(pointer: string, rule: string, message: string): BodyProblem {
  return { pointer, rule, message };
}

function checkNumber(schema: Schema, value: number, pointer: string): BodyProblem | null {
  if (schema.minimum !== undefined && value < schema.minimum) return problem(pointer, 'minimum', `expected >= ${schema.minimum}`);
  if (schema.maximum !== undefined && value > schema.maximum) return problem(pointer, 'maximum', `expected <= ${schema.maximum}`);
  if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) {
    return problem(pointer, 'exclusiveMinimum', `expected > ${schema.exclusiveMinimum}`);
  }
  if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) {
    return problem(pointer, 'exclusiveMaximum', `expected < ${schema.exclusiveMaximum}`);
  }
  return null;
}

/** Lengths before the pattern: the order msgspec checks them in. */
function checkString(schema: Schema, value: string, pointer: string): BodyProblem | null {
  if (schema.enum !== undefined && !schema.enum.includes(value)) return problem(pointer, 'enum', `${JSON.stringify(value)} is not one of ${schema.enum.join(', ')}`);
  const length = schema.minLength !== undefined || schema.maxLength !== undefined ? codePoints(value) : 0;
  if (schema.minLength !== undefined && length < schema.minLength) return problem(pointer, 'minLength', `expected length >= ${schema.minLength}`);
  if (schema.maxLength !== undefined && length > schema.maxLength) return problem(pointer, 'maxLength', `expected length <= ${schema.maxLength}`);
  if (schema.pattern !== undefined) {
    let re = patternCache.get(schema.pattern);
    if (re === undefined) {
      re = new RegExp(schema.pattern, 'u');
      patternCache.set(schema.pattern, re);
    }
    if (!re.test(value)) return problem(pointer, 'pattern', `expected a string matching ${schema.pattern}`);
  }
  return null;
}

/**
 * The first place `value` breaks `schema`, or `null` when it fits. Members are visited in the
 * value's own order, then missing required members in schema order, as msgspec does in Python,
 * so both languages usually name the same pointer and rule.
 */
export function checkBody(schemas: Schemas, schema: Schema, value: unknown, pointer = ''): BodyProblem | null {
  if (schema.$ref !== undefined) {
    const target = schemas[schema.$ref.slice(schema.$ref.lastIndexOf('/') + 1)];
    if (target === undefined) return problem(pointer, '$ref', `unknown type ${schema.$ref}`);
    return checkBody(schemas, target, value, pointer);
  }
  const kind = kindOf(value);
  const expected = schema.type;
  const fits = expected === undefined || expected === kind || (expected === 'number' && kind === 'integer');
  if (!fits || (kind === 'number' && !Number.isFinite(value))) {
    return problem(pointer, 'type', `expected ${expected ?? 'a value'}, got ${kind}`);
  }
  if (typeof value === 'number') return checkNumber(schema, value, pointer);
  if (typeof value === 'string') return checkString(schema, value, pointer);
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) return problem(pointer, 'minItems', `expected at least ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) return problem(pointer, 'maxItems', `expected at most ${schema.maxItems} items`);
    if (schema.items !== undefined) {
      for (let i = 0; i < value.length; i += 1) {
        const found = checkBody(schemas, schema.items, value[i], `${pointer}/${i}`);
        if (found !== null) return found;
      }
    }
    return null;
  }
  if (kind === 'object' && schema.properties !== undefined) {
    const object = value as { readonly [key: string]: unknown };
    for (const key of Object.keys(object)) {
      const sub = Object.prototype.hasOwnProperty.call(schema.properties, key) ? schema.properties[key] : undefined;
      if (sub !== undefined) {
        const found = checkBody(schemas, sub, object[key], `${pointer}/${escapeToken(key)}`);
        if (found !== null) return found;
      } else if (schema.additionalProperties === false) {
        return problem(pointer, 'additionalProperties', `unknown member ${JSON.stringify(key)}`);
      }
    }
    for (const name of Object.keys(schema.properties)) {
      if (schema.required?.includes(name) === true && !Object.prototype.hasOwnProperty.call(object, name)) {
        return problem(pointer, 'required', `missing required member ${JSON.stringify(name)}`);
      }
    }
  }
  return null;
}

/** Fill a topic template; a parameter left `undefined` becomes `*` when `pattern` is true. */
export function topicOf(endpoint: Endpoint, values: { readonly [name: string]: string | undefined }, pattern = false): string {
  return endpoint.topic
    .split('.')
    .map((token) => {
      if (!token.startsWith('{')) return token;
      const value = values[token.slice(1, -1)];
      if (value === undefined && pattern) return '*';
      if (value === undefined || value === '' || BAD_PARAM.test(value)) {
        throw new WsmqError('BAD_TOPIC', `parameter ${token} of ${endpoint.topic} must be one topic token: ${JSON.stringify(value)}`, { topic: endpoint.topic });
      }
      return value;
    })
    .join('.');
}

function paramsOf(endpoint: Endpoint, topic: string): string[] {
  if (endpoint.params.length === 0) return [];
  const tokens = topic.split('.');
  const out: string[] = [];
  endpoint.topic.split('.').forEach((token, i) => {
    if (token.startsWith('{')) out.push(tokens[i] ?? '');
  });
  return out;
}

/**
 * Base class of generated catalogue clients. Its helpers are protected: the generated subclass
 * is the typed surface.
 */
export class SdkClient {
  readonly client: WebSocketMQ;
  protected readonly schemas: Schemas;
  protected readonly onInvalid: (error: WsmqError) => void;

  constructor(client: WebSocketMQ, schemas: Schemas, options: SdkOptions = {}) {
    this.client = client;
    this.schemas = schemas;
    this.onInvalid = options.onInvalid ?? ((error) => client.onError?.(error));
  }

  /** The body as type `T` when it fits schema `name`; else an `INVALID_BODY` error (local). */
  check<T>(name: string, value: unknown, topic: string, what = 'body'): T {
    const schema = this.schemas[name];
    if (schema === undefined) throw new WsmqError('INTERNAL', `no schema ${name}`);
    const found = checkBody(this.schemas, schema, value);
    if (found !== null) {
      throw new WsmqError('INVALID_BODY', `${what} of ${topic} breaks its schema at ${found.pointer || 'the body'}: ${found.message}`, {
        details: { pointer: found.pointer, rule: found.rule, topic },
        topic,
      });
    }
    return value as T;
  }

  protected topicFor(endpoint: Endpoint, args: readonly string[]): string {
    const values: { [name: string]: string } = {};
    endpoint.params.forEach((name, i) => {
      const value = args[i];
      if (value !== undefined) values[name] = value;
    });
    return topicOf(endpoint, values);
  }

  protected async call<R>(endpoint: Endpoint, args: readonly string[], body: unknown, options?: RequestOptions): Promise<R> {
    const topic = this.topicFor(endpoint, args);
    this.check(endpoint.body, body, topic);
    let raw: unknown;
    try {
      raw = await this.client.request(topic, body, options);
    } catch (error) {
      if (isWsmqError(error)) {
        const Declared = endpoint.errors[error.code];
        if (Declared !== undefined) {
          throw new Declared(error.message, { details: error.details, correlationID: error.correlationID, topic, remote: error.remote, cause: error });
        }
      }
      throw error;
    }
    return this.check<R>(endpoint.response ?? '', raw, topic, 'response');
  }

  protected publishTo(endpoint: Endpoint, args: readonly string[], body: unknown): void {
    const topic = this.topicFor(endpoint, args);
    this.check(endpoint.body, body, topic);
    this.client.publish(topic, body);
  }

  protected subscribeTo<B>(
    endpoint: Endpoint,
    handler: (body: B, ...params: string[]) => unknown,
    filter: { readonly [name: string]: string | undefined },
  ): Unsubscribe {
    return this.client.subscribe(topicOf(endpoint, filter, true), (body: unknown, context) => {
      let checked: B;
      try {
        checked = this.check<B>(endpoint.body, body, context.topic);
      } catch (error) {
        this.onInvalid(error as WsmqError);
        return undefined;
      }
      return handler(checked, ...paramsOf(endpoint, context.topic));
    });
  }

  protected handleWith<B, R>(endpoint: Endpoint, handler: (body: B, ...params: string[]) => R | Promise<R>): Unsubscribe {
    return this.client.subscribe(topicOf(endpoint, {}, true), async (body: unknown, context) => {
      let checked: B;
      try {
        checked = this.check<B>(endpoint.body, body, context.topic);
      } catch (error) {
        this.onInvalid(error as WsmqError);
        throw error;
      }
      const result = await handler(checked, ...paramsOf(endpoint, context.topic));
      try {
        return this.check<R>(endpoint.response ?? '', result, context.topic, 'response');
      } catch (error) {
        // The handler's own bug: the server caller gets INTERNAL (spec/catalogue.md §7 rule 4).
        const details = (error as WsmqError).details;
        throw new WsmqError('INTERNAL', (error as Error).message, { details });
      }
    });
  }
}
