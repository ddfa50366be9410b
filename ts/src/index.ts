// @natsrpc/natsrpc: protobuf services over NATS for TypeScript, speaking
// the wire contract of docs/wire.md. Clients and handlers are driven by the
// service descriptors protoc-gen-es v2 generates; there is no plugin of
// our own.
export { Code, codeName, codeFromHttpStatus, codeFromServiceCode, httpStatus, parseCode } from "./code.js";
export { isNatsRpcError, NatsRpcError } from "./error.js";
export type { ErrorDetail, NatsRpcErrorOptions, OutgoingDetail } from "./error.js";
export type { HeadersInit } from "./headers.js";
export { createClient, DEFAULT_TIMEOUT_MS } from "./client.js";
export type { CallOptions, Client, ClientOptions, MethodClient, RetryPolicy } from "./client.js";
export {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_LIVENESS_MS,
  DEFAULT_STREAM_WINDOW,
  DEFAULT_STREAM_WINDOW_BYTES,
} from "./stream.js";
export type { ServerStream, StreamOptions } from "./stream.js";
export {
  DEFAULT_CONCURRENCY,
  DEFAULT_MAX_PENDING,
  DEFAULT_MAX_TIMEOUT_MS,
  endpointMetadata,
  registerHandler,
} from "./server.js";
export type {
  EndpointData,
  HandlerContext,
  HandlerOptions,
  MicroEndpointInfo,
  MicroEndpointStats,
  MicroInfo,
  MicroStats,
  NatsRpcService,
  ServiceImpl,
  UnaryImpl,
} from "./server.js";
export { durableSettings, forService, formatGoDuration, SpecError, validateSubject, validateToken } from "./spec.js";
export type { Delivery, DurableSettings, Idempotency, MethodKindName, MethodSpec, ServiceSpec } from "./spec.js";
export { VERSION } from "./version.js";
