/**
 * Public surface of the `websocketmq` npm package. Anything not exported here is internal.
 */
export { WebSocketMQ } from './client.js';
export type {
  AuthOption,
  CloseInfo,
  ConnectionState,
  ConnectionStatus,
  MessageContext,
  MessageHandler,
  OpenInfo,
  RequestOptions,
  SubscribeOptions,
  Unsubscribe,
  WebSocketConstructor,
  WebSocketLike,
  WebSocketMQEvents,
  WebSocketMQOptions,
} from './client.js';
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
