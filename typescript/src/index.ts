/**
 * Public surface of the `websocketmq` npm package. Anything not exported here is internal: the
 * modules behind the client (requests, subscriptions, lifecycle, …) are reachable only through
 * this file (the `exports` map in package.json exposes nothing else).
 */
export { WebSocketMQ } from './client.js';
export type { RequestOptions } from './client.js';
export type { AuthOption, WebSocketMQOptions } from './options.js';
export type { CloseInfo, ConnectionState, ConnectionStatus, OpenInfo, WebSocketMQEvents } from './lifecycle.js';
export type { MessageContext, MessageHandler } from './handlers.js';
export type { SubscribeOptions, Unsubscribe } from './subscriptions.js';
export type { WebSocketConstructor, WebSocketLike } from './transport.js';
export { WsmqError, isWsmqError } from './errors.js';
export type { ErrorCode, WsmqErrorInit } from './errors.js';
export { topicMatches, topicProblem } from './topics.js';
export { backoffDelay } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { PROTOCOL, SUBPROTOCOL } from './protocol.js';
export type {
  BrokerToClient,
  CancelNotice,
  ClientToBroker,
  Envelope,
  ErrorBody,
  MessageHeader,
  MessageType,
  RegisterBody,
  RegisteredBody,
  WireErrorCode,
} from './protocol.js';
export { SdkClient, checkBody, topicOf } from './sdk.js';
export type { BodyProblem, DeclaredErrorClass, Endpoint, Schema, Schemas, SdkOptions } from './sdk.js';
