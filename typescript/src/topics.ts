/**
 * Topic validation and NATS-style pattern matching (docs/design.md §3).
 *
 * The broker decides what a client receives; the client matches again locally only to route a
 * delivery to the right handlers when several (possibly wildcard) subscriptions exist, so the
 * rules here must be exactly the broker's: `*` is one token, `>` is one or more trailing tokens.
 * The token grammar and the limits are the generated ones (spec §5.1, `TopicString` in
 * envelope.schema.json), which the broker's checks come from too.
 */
import { MAX_TOPIC_BYTES, MAX_TOPIC_TOKENS, TOPIC_EXCLUDED_CLASS } from './protocol.js';

// A token is 1+ chars, none of them '.', '*', '>' or a code point §5.1 excludes.
const BAD_TOKEN_CHAR = new RegExp(`[${TOPIC_EXCLUDED_CLASS}.*>]`, 'u');

function byteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** Why `topic` is not a valid literal topic or pattern, or `null` when it is. */
export function topicProblem(topic: string, allowWildcards: boolean): string | null {
  if (topic === '') return 'topic is empty';
  if (byteLength(topic) > MAX_TOPIC_BYTES) return `topic is longer than ${MAX_TOPIC_BYTES} bytes`;
  const tokens = topic.split('.');
  if (tokens.length > MAX_TOPIC_TOKENS) return `topic has more than ${MAX_TOPIC_TOKENS} tokens`;
  for (const [i, token] of tokens.entries()) {
    if (allowWildcards && token === '*') continue;
    if (allowWildcards && token === '>') {
      if (i !== tokens.length - 1) return "'>' must be the last token";
      continue;
    }
    if (token === '') return 'topic has an empty token';
    if (BAD_TOKEN_CHAR.test(token)) {
      return allowWildcards
        ? `bad token ${JSON.stringify(token)}`
        : `bad token ${JSON.stringify(token)} (publish and request topics cannot use wildcards)`;
    }
  }
  return null;
}

/**
 * Does subscription `pattern` match literal `topic` (NATS subject semantics)? A pattern whose
 * first token is `*` or `>` never matches a reserved topic (first token starting with `_`,
 * spec §5.2), so catch-all handlers never see control traffic by accident.
 */
export function topicMatches(pattern: string, topic: string): boolean {
  if (pattern === topic) return true;
  const p = pattern.split('.');
  const t = topic.split('.');
  if ((p[0] === '*' || p[0] === '>') && topic.startsWith('_')) return false;
  for (let i = 0; i < p.length; i++) {
    const token = p[i];
    if (token === '>') return t.length > i;
    if (i >= t.length) return false;
    if (token !== '*' && token !== t[i]) return false;
  }
  return p.length === t.length;
}
