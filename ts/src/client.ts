// createClient: typed clients for protoc-gen-es v2 service descriptors,
// speaking docs/wire.md: unary calls (§2-§7), server streams (§11) and
// events (§12).
import { create } from "@bufbuild/protobuf";
import type { DescMessage, DescService, MessageInitShape, MessageShape, Registry } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import type { Empty } from "@bufbuild/protobuf/wkt";
import { headers as natsHeaders, nuid } from "@nats-io/nats-core";
import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/nats-core";

import { abortError, deadlineError, maxPayload, now, registryFor, requestError } from "./call.js";
import { Code } from "./code.js";
import { NatsRpcError } from "./error.js";
import { checkMetadata, headerBytes, headerGet, toHeaders, type HeadersInit } from "./headers.js";
import { muxFor, RequestFailed } from "./mux.js";
import { durableSettings, forService, validateSubject, type MethodSpec, type ServiceSpec } from "./spec.js";
import { ServerStreamCall, type ServerStream, type StreamOptions } from "./stream.js";
import {
  contentTypeJson,
  decodeMessage,
  decodeReplyError,
  encodeMessage,
  headerContentType,
  headerExpectedStream,
  headerMsgId,
  headerTimeout,
  parseContentType,
  timeoutMillis,
  toMessage,
  type Codec,
} from "./wire.js";

/** DEFAULT_TIMEOUT_MS is the timeout of a unary call when nothing else sets one. */
export const DEFAULT_TIMEOUT_MS = 5000;

/**
 * RetryPolicy changes how idempotent unary calls are retried (wire.md §7):
 * only methods whose idempotency_level is NO_SIDE_EFFECTS or IDEMPOTENT,
 * only after unavailable (no responders, a service's unavailable) or a
 * service's resource_exhausted, never past the deadline.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included; 1 turns retries off. Default 3. */
  maxAttempts?: number;
  /** The first wait; each next one doubles, drawn between half and all of it. Default 25 ms. */
  initialBackoffMs?: number;
  /** The longest wait. Default 1000 ms. */
  maxBackoffMs?: number;
  /** Retries earned per call, as a fraction (a bucket of at most 10). Default 0.1. */
  budgetRatio?: number;
  /** Retries per second always allowed. Default 10. */
  budgetMinPerSecond?: number;
}

/** ClientOptions configure every call of a client. */
export interface ClientOptions {
  /** The runtime subject prefix, e.g. "staging"; services must use the same. */
  subjectPrefix?: string;
  /**
   * The timeout of unary calls and durable-event publishes whose method
   * and service set none in the schema (the schema's timeouts win: they
   * are the method author's statement of how long it needs). Default 5000.
   */
  timeoutMs?: number;
  /** Send and receive protojson (application/json) instead of binary protobuf. */
  json?: boolean;
  /** Retries of idempotent unary calls; false turns them off. */
  retry?: RetryPolicy | false;
  /** Flow control and liveness of server streams. */
  stream?: StreamOptions;
  /** Types for google.protobuf.Any in JSON; defaults to the service's files and their imports. */
  registry?: Registry;
}

/** CallOptions configure one call. */
export interface CallOptions {
  /** Cancels the call: it rejects with canceled (deadline_exceeded for AbortSignal.timeout). */
  signal?: AbortSignal;
  /** The call's timeout; it only ever shortens what the signal allows. */
  timeoutMs?: number;
  /** Metadata sent as request headers (reserved names are refused). */
  headers?: HeadersInit;
  /** Called with the reply's headers (a stream's: those of its first message, or its end). */
  onHeader?(headers: MsgHdrs): void;
  /** Streams: called with the trailer the handler set, at the end of the stream. */
  onTrailer?(headers: MsgHdrs): void;
  /** Events: the idempotency key, sent as Nats-Msg-Id (durable events are stored once per key). */
  idempotencyKey?: string;
  /** Streams: overrides the client's stream options for this call. */
  stream?: StreamOptions;
}

type UnaryFn<I extends DescMessage, O extends DescMessage> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => Promise<MessageShape<O>>;

type ServerStreamFn<I extends DescMessage, O extends DescMessage> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => ServerStream<MessageShape<O>>;

/**
 * MethodClient is the client function of one method: a unary method (or
 * event: it resolves with google.protobuf.Empty once published, or once
 * JetStream stored a durable event) returns a Promise; a server-streaming
 * method returns an async iterable. Client and bidirectional streams are
 * not supported by the TypeScript runtime yet: their type is never.
 */
export type MethodClient<M> = M extends { methodKind: "unary"; input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? UnaryFn<I, O>
  : M extends { methodKind: "server_streaming"; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? ServerStreamFn<I, O>
    : never;

/** Client is the typed client of a service: one function per method, by its localName. */
export type Client<S extends DescService> = {
  [P in keyof S["method"]]: MethodClient<S["method"][P]>;
};

/** ClientCore is what every method of one client shares. */
export interface ClientCore {
  readonly nc: NatsConnection;
  readonly spec: ServiceSpec;
  readonly prefix: string;
  readonly codec: Codec;
  readonly timeoutMs: number;
  readonly retry: Required<RetryPolicy> | undefined;
  readonly stream: StreamOptions;
  readonly registry: Registry;
}

/**
 * createClient returns a typed client of service over nc: one function per
 * method, named by its localName (e.g. client.getQuest). It throws a
 * NatsRpcError (invalid_argument) when the service's natsrpc options are
 * invalid or the options are.
 */
export function createClient<S extends DescService>(service: S, nc: NatsConnection, options: ClientOptions = {}): Client<S> {
  let spec: ServiceSpec;
  try {
    spec = forService(service);
  } catch (e) {
    throw new NatsRpcError(`invalid client for ${JSON.stringify(service.typeName)}: ${e instanceof Error ? e.message : String(e)}`, Code.InvalidArgument, { cause: e });
  }
  const prefix = options.subjectPrefix ?? "";
  if (prefix !== "") {
    const err = validateSubject(prefix);
    if (err !== undefined) {
      throw new NatsRpcError(`invalid client for ${JSON.stringify(service.typeName)}: subject prefix ${JSON.stringify(prefix)}: ${err}`, Code.InvalidArgument);
    }
  }
  if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) {
    throw new NatsRpcError(`invalid client for ${JSON.stringify(service.typeName)}: timeoutMs ${options.timeoutMs} must be positive`, Code.InvalidArgument);
  }
  const core: ClientCore = {
    nc,
    spec,
    prefix,
    codec: options.json ? "json" : "proto",
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    retry: retryPolicy(options.retry),
    stream: options.stream ?? {},
    registry: options.registry ?? registryFor(service),
  };
  const client: Record<string, unknown> = {};
  for (const m of spec.methods) {
    client[m.desc.localName] = methodClient(core, m);
  }
  return client as Client<S>;
}

function retryPolicy(p: RetryPolicy | false | undefined): Required<RetryPolicy> | undefined {
  if (p === false) {
    return undefined;
  }
  const r: Required<RetryPolicy> = {
    maxAttempts: p?.maxAttempts || 3,
    initialBackoffMs: p?.initialBackoffMs || 25,
    maxBackoffMs: p?.maxBackoffMs || 1000,
    budgetRatio: p?.budgetRatio || 0.1,
    budgetMinPerSecond: p?.budgetMinPerSecond || 10,
  };
  r.maxBackoffMs = Math.max(r.maxBackoffMs, r.initialBackoffMs);
  return r.maxAttempts > 1 ? r : undefined;
}

function methodClient(core: ClientCore, m: MethodSpec): unknown {
  const subject = core.prefix === "" ? m.subject : `${core.prefix}.${m.subject}`;
  switch (m.kind) {
    case "unary": {
      const budget = core.retry !== undefined && (m.idempotency === "no_side_effects" || m.idempotency === "idempotent")
        ? new RetryBudget(core.retry)
        : undefined;
      return (req: MessageInitShape<DescMessage>, opts?: CallOptions) => callUnary(core, m, subject, budget, req, opts);
    }
    case "event": {
      const durable = m.durable !== undefined ? durableSettings(m, core.prefix).stream : undefined;
      return (req: MessageInitShape<DescMessage>, opts?: CallOptions) => publishEvent(core, m, subject, durable, req, opts);
    }
    case "server_stream":
      return (req: MessageInitShape<DescMessage>, opts?: CallOptions) => new ServerStreamCall(core, m, subject, req, opts ?? {});
    default:
      return () => Promise.reject(new NatsRpcError(`${m.procedure} is a ${m.kind.replace("_", " ")}ing method, which the TypeScript runtime does not support yet`, Code.Unimplemented));
  }
}

/** callDeadline is when a call ends: its own timeout, else the given default. */
function callTimeout(opts: CallOptions | undefined, fallback: number): number {
  if (opts?.timeoutMs !== undefined) {
    if (!(opts.timeoutMs > 0)) {
      throw new NatsRpcError(`timeoutMs ${opts.timeoutMs} must be positive`, Code.InvalidArgument);
    }
    return opts.timeoutMs;
  }
  return fallback;
}

/**
 * requestHeaders builds a request's headers: metadata (reserved names
 * refused), Content-Type for JSON.
 */
function requestHeaders(core: ClientCore, opts: CallOptions | undefined): MsgHdrs {
  const h = opts?.headers === undefined ? natsHeaders() : toHeaders(opts.headers);
  const bad = checkMetadata(h);
  if (bad !== undefined) {
    throw new NatsRpcError(bad, Code.InvalidArgument);
  }
  if (core.codec === "json") {
    h.set(headerContentType, contentTypeJson);
  }
  return h;
}

function encodeRequest(core: ClientCore, desc: DescMessage, req: MessageInitShape<DescMessage>, what: string): Uint8Array {
  try {
    return encodeMessage(core.codec, desc, toMessage(desc, req), core.registry);
  } catch (e) {
    throw new NatsRpcError(`encode ${what}: ${e instanceof Error ? e.message : String(e)}`, Code.InvalidArgument, { cause: e });
  }
}

function checkSize(nc: NatsConnection, h: MsgHdrs | undefined, data: Uint8Array, what: string): void {
  const limit = maxPayload(nc);
  const size = headerBytes(h) + data.length;
  if (limit > 0 && size > limit) {
    throw new NatsRpcError(`${what} of ${size} bytes (headers included) is larger than the NATS server's max_payload of ${limit} bytes`, Code.ResourceExhausted);
  }
}

async function callUnary(
  core: ClientCore,
  m: MethodSpec,
  subject: string,
  budget: RetryBudget | undefined,
  req: MessageInitShape<DescMessage>,
  opts: CallOptions | undefined,
): Promise<MessageShape<DescMessage>> {
  const signal = opts?.signal;
  if (signal?.aborted) {
    throw abortError(signal.reason, subject);
  }
  const timeout = callTimeout(opts, m.timeoutMs > 0 ? m.timeoutMs : core.timeoutMs);
  const deadline = now() + timeout;
  // Without metadata the headers are the runtime's own, encoded once per
  // timeout value (see fixedHeaders); with it, a map of the call's own.
  const meta = opts?.headers !== undefined ? requestHeaders(core, opts) : undefined;
  const data = encodeRequest(core, m.desc.input, req, "request");
  budget?.deposit();
  const mux = muxFor(core.nc);
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptUnary(core, m, subject, mux, meta, data, deadline, opts);
    } catch (e) {
      const err = NatsRpcError.from(e);
      const retry = core.retry;
      if (budget === undefined || retry === undefined || attempt >= retry.maxAttempts || !retryable(err) ||
        core.nc.isClosed() || !budget.withdraw() || !(await backoffWait(retry, attempt, deadline, signal))) {
        throw err;
      }
    }
  }
}

/**
 * fixedHeaders returns the headers of a call without metadata: only
 * Nats-Rpc-Timeout (and Content-Type for JSON), encoded once and shared
 * while the timeout value stays the same, as it does for calls that share
 * a timeout. nats.js encodes headers on every publish by calling their
 * encode(), which is the per-call cost this saves; nothing mutates them.
 */
function fixedHeaders(codec: Codec, ms: number): MsgHdrs {
  const c = fixedCache[codec === "json" ? 1 : 0]!;
  if (c.ms === ms && c.h !== undefined) {
    return c.h;
  }
  const h = natsHeaders();
  if (codec === "json") {
    h.set(headerContentType, contentTypeJson);
  }
  h.set(headerTimeout, String(ms));
  const bytes = (h as unknown as { encode(): Uint8Array }).encode();
  Object.defineProperty(h, "encode", { value: () => bytes });
  c.ms = ms;
  c.h = h;
  c.size = bytes.length;
  return h;
}

const fixedCache: { ms: number; h: MsgHdrs | undefined; size: number }[] = [
  { ms: -1, h: undefined, size: 0 },
  { ms: -1, h: undefined, size: 0 },
];

async function attemptUnary(
  core: ClientCore,
  m: MethodSpec,
  subject: string,
  mux: ReturnType<typeof muxFor>,
  meta: MsgHdrs | undefined,
  data: Uint8Array,
  deadline: number,
  opts: CallOptions | undefined,
): Promise<MessageShape<DescMessage>> {
  const remaining = deadline - now();
  if (remaining <= 0) {
    throw deadlineError(subject);
  }
  const ms = timeoutMillis(remaining);
  let h: MsgHdrs;
  if (meta === undefined) {
    h = fixedHeaders(core.codec, ms);
    const limit = maxPayload(core.nc);
    const size = fixedCache[core.codec === "json" ? 1 : 0]!.size + data.length;
    if (limit > 0 && size > limit) {
      throw new NatsRpcError(`request of ${size} bytes (headers included) is larger than the NATS server's max_payload of ${limit} bytes`, Code.ResourceExhausted);
    }
  } else {
    h = meta;
    h.set(headerTimeout, String(ms));
    checkSize(core.nc, h, data, "request");
  }
  let reply: Msg;
  try {
    reply = await mux.request(subject, data, h, remaining, opts?.signal);
  } catch (e) {
    throw requestError(e, subject);
  }
  opts?.onHeader?.(reply.headers ?? natsHeaders());
  const err = decodeReplyError(reply);
  if (err !== undefined) {
    throw err;
  }
  const ct = headerGet(reply.headers, headerContentType);
  const codec = parseContentType(ct);
  if (codec === undefined) {
    throw new NatsRpcError(`response has unsupported Content-Type ${JSON.stringify(ct)}`, Code.Internal);
  }
  try {
    return decodeMessage(codec, m.desc.output, reply.data, core.registry);
  } catch (e) {
    throw new NatsRpcError(`decode ${JSON.stringify(m.desc.output.typeName)} response: ${e instanceof Error ? e.message : String(e)}`, Code.Internal, { cause: e });
  }
}

/** retryable: unavailable from no responders or a service, a service's resource_exhausted. */
function retryable(e: NatsRpcError): boolean {
  switch (e.code) {
    case Code.Unavailable:
      return e.wire || (e.cause instanceof RequestFailed && e.cause.failure.kind === "no_responders");
    case Code.ResourceExhausted:
      return e.wire;
    default:
      return false;
  }
}

/** backoffWait waits before retry n+1; false when the wait would pass the deadline or the signal fired. */
function backoffWait(p: Required<RetryPolicy>, n: number, deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
  let base = p.initialBackoffMs;
  for (let i = 1; i < n && base < p.maxBackoffMs; i++) {
    base *= 2;
  }
  base = Math.min(base, p.maxBackoffMs);
  const d = base / 2 + Math.random() * (base / 2);
  if (deadline - now() <= d || signal?.aborted) {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, d);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * RetryBudget bounds retries per client method: a bucket of at most 10
 * retries that earns budgetRatio per call and spends 1 per retry, plus
 * budgetMinPerSecond retries per second always allowed, so that a failing
 * service sees about 10% more traffic from retries.
 */
class RetryBudget {
  private tokens = 10;
  private second = 0;
  private usedThisSecond = 0;
  constructor(private readonly p: Required<RetryPolicy>) {}

  deposit(): void {
    this.tokens = Math.min(10, this.tokens + this.p.budgetRatio);
  }

  withdraw(): boolean {
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    const s = Math.floor(Date.now() / 1000);
    if (s !== this.second) {
      this.second = s;
      this.usedThisSecond = 0;
    }
    if (this.usedThisSecond < this.p.budgetMinPerSecond) {
      this.usedThisSecond++;
      return true;
    }
    return false;
  }
}

/**
 * publishEvent publishes one event (wire.md §12): a plain event with core
 * NATS (at most once), a durable one as a JetStream publish that resolves
 * once the stream stored it.
 */
async function publishEvent(
  core: ClientCore,
  m: MethodSpec,
  subject: string,
  stream: string | undefined,
  req: MessageInitShape<DescMessage>,
  opts: CallOptions | undefined,
): Promise<Empty> {
  const signal = opts?.signal;
  if (signal?.aborted) {
    throw abortError(signal.reason, subject);
  }
  const h = requestHeaders(core, opts);
  if (opts?.idempotencyKey !== undefined && opts.idempotencyKey !== "") {
    h.set(headerMsgId, opts.idempotencyKey);
  }
  const data = encodeRequest(core, m.desc.input, req, "event");
  if (stream === undefined) {
    checkSize(core.nc, h, data, "event");
    try {
      core.nc.publish(subject, data, h.keys().length > 0 ? { headers: h } : undefined);
    } catch (e) {
      throw requestError(new RequestFailed({ kind: "publish", cause: e }), subject);
    }
    return create(EmptySchema);
  }
  const timeout = callTimeout(opts, m.timeoutMs > 0 ? m.timeoutMs : core.timeoutMs);
  if (headerGet(h, headerMsgId) === "") {
    h.set(headerMsgId, nuid.next());
  }
  h.set(headerExpectedStream, stream);
  checkSize(core.nc, h, data, "event");
  let reply: Msg;
  try {
    reply = await muxFor(core.nc).request(subject, data, h, timeout, signal);
  } catch (e) {
    if (e instanceof RequestFailed && e.failure.kind === "no_responders") {
      throw new NatsRpcError(`no JetStream stream stores ${JSON.stringify(subject)} (registering a handler of the event creates stream ${JSON.stringify(stream)}; JetStream must be enabled)`, Code.Unavailable);
    }
    throw requestError(e, subject);
  }
  let ack: { error?: { code?: number; err_code?: number; description?: string }; stream?: string };
  try {
    ack = JSON.parse(new TextDecoder().decode(reply.data)) as typeof ack;
  } catch (e) {
    throw new NatsRpcError(`JetStream's answer to the event on ${JSON.stringify(subject)} is not a publish acknowledgement`, Code.Internal, { cause: e });
  }
  if (ack.error !== undefined) {
    const { code = 0, err_code: errCode = 0, description = "" } = ack.error;
    let c: Code = Code.Internal;
    if (code === 503) {
      c = Code.Unavailable;
    } else if (code === 429 || errCode === 10054) {
      c = Code.ResourceExhausted;
    } else if (code === 400) {
      c = Code.FailedPrecondition;
    }
    throw new NatsRpcError(`JetStream refused the event on ${JSON.stringify(subject)}: ${description} (status ${code}, error ${errCode})`, c);
  }
  return create(EmptySchema);
}
