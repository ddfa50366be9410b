// registerHandler: a Node (or browser) service instance for the unary
// methods of a protobuf service (docs/wire.md §3-§5), discoverable as a
// NATS micro service (§8, ADR-32) so that `nats micro ls|info|stats` see it.
import type { DescMessage, DescService, MessageInitShape, MessageShape, Registry } from "@bufbuild/protobuf";
import { headers as natsHeaders, nuid } from "@nats-io/nats-core";
import type { Msg, MsgHdrs, NatsConnection, Subscription } from "@nats-io/nats-core";

import { maxPayload, now, registryFor } from "./call.js";
import { timer } from "./timer.js";
import { Code, codeName } from "./code.js";
import { isNatsRpcError, NatsRpcError } from "./error.js";
import { copyAllowedHeaders, headerBytes, headerGet } from "./headers.js";
import { forService, validateSubject, type MethodSpec, type ServiceSpec } from "./spec.js";
import { VERSION } from "./version.js";
import {
  contentTypeJson,
  contentTypeProto,
  decodeMessage,
  encodeError,
  encodeMessage,
  headerContentType,
  headerEncoding,
  headerTimeout,
  parseContentType,
  parseTimeout,
  toMessage,
  type Codec,
} from "./wire.js";

/** DEFAULT_CONCURRENCY is how many handlers run at once per service instance. */
export const DEFAULT_CONCURRENCY = 64;
/** DEFAULT_MAX_PENDING is how many admitted requests may wait for a handler slot. */
export const DEFAULT_MAX_PENDING = 1024;
/** DEFAULT_MAX_TIMEOUT_MS clamps every request's deadline (nats-server's default reply-permission expiry). */
export const DEFAULT_MAX_TIMEOUT_MS = 120_000;

/** HandlerContext is what a handler knows about its request. */
export interface HandlerContext {
  /** The method being served. */
  readonly method: MethodSpec;
  /** Aborted when the deadline passes (reason: a TimeoutError) or the service stops giving up. */
  readonly signal: AbortSignal;
  /** The request's deadline, in Date.now() milliseconds. */
  readonly deadline: number;
  /** The request's headers (metadata, traceparent, ...). */
  readonly requestHeader: MsgHdrs;
  /** Headers to send with the response (or the error); reserved names are dropped. */
  readonly responseHeader: MsgHdrs;
}

/** UnaryImpl is the handler of one unary method. */
export type UnaryImpl<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: HandlerContext,
) => Promise<MessageInitShape<O> | MessageShape<O>> | MessageInitShape<O> | MessageShape<O>;

/**
 * ServiceImpl is a service's implementation: a handler per unary method,
 * by localName. Methods without one are not served (callers get
 * unavailable), so an instance can serve part of a service. Streaming
 * methods and events are not served by the TypeScript runtime yet.
 */
export type ServiceImpl<S extends DescService> = {
  [P in keyof S["method"]]?: S["method"][P] extends { methodKind: "unary"; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? UnaryImpl<I, O>
    : never;
};

/** HandlerOptions configure a service instance. */
export interface HandlerOptions {
  /** The runtime subject prefix; clients must use the same. */
  subjectPrefix?: string;
  /** Handlers running at once. Default 64. */
  concurrency?: number;
  /** Admitted requests waiting for a handler; beyond it requests are answered resource_exhausted. Default 1024. */
  maxPending?: number;
  /** The longest deadline a request gets. Default 120000. */
  maxTimeoutMs?: number;
  /** Types for google.protobuf.Any in JSON; defaults to the service's files and their imports. */
  registry?: Registry;
}

/** MicroIdentity, MicroInfo and MicroStats are nats.go micro's JSON (ADR-32). */
export interface MicroIdentity {
  name: string;
  id: string;
  version: string;
  metadata: Record<string, string>;
}
export interface MicroEndpointInfo {
  name: string;
  subject: string;
  queue_group: string;
  metadata: Record<string, string>;
}
export interface MicroInfo extends MicroIdentity {
  type: "io.nats.micro.v1.info_response";
  description: string;
  endpoints: MicroEndpointInfo[];
}
export interface MicroEndpointStats {
  name: string;
  subject: string;
  queue_group: string;
  num_requests: number;
  num_errors: number;
  last_error: string;
  processing_time: number;
  average_processing_time: number;
  data: EndpointData;
}
export interface MicroStats extends MicroIdentity {
  type: "io.nats.micro.v1.stats_response";
  started: string;
  endpoints: MicroEndpointStats[];
}

/** EndpointData is the "data" of an endpoint's STATS entry, as the Go runtime reports it. */
export interface EndpointData {
  in_flight: number;
  rejected: number;
  expired: number;
  panics: number;
  queue_time: number;
  average_queue_time: number;
  pool_in_flight: number;
  pool_queued: number;
  pool_concurrency: number;
  pool_max_pending: number;
}

/** NatsRpcService is one running service instance. */
export interface NatsRpcService {
  /** The micro service name, e.g. "gaming_quest_system_v1_QuestSystemService". */
  readonly name: string;
  /** This instance's micro id (a NUID). */
  readonly id: string;
  /** What $SRV.INFO answers. */
  info(): MicroInfo;
  /** What $SRV.STATS answers. */
  stats(): MicroStats;
  /**
   * stop stops the instance gracefully: it drains the method
   * subscriptions (requests already delivered are still served), waits
   * for the requests queued and running, then leaves discovery. After
   * timeoutMs (default 30000) the handlers' signals are aborted and stop
   * rejects, saying how many were still in flight.
   */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

interface Request {
  ep: Endpoint;
  msg: Msg;
  codec: Codec;
  arrived: number;
  deadline: number;
}

interface Endpoint {
  spec: MethodSpec;
  subject: string;
  timeoutMs: number;
  impl: UnaryImpl<DescMessage, DescMessage>;
  metadata: Record<string, string>;
  sub?: Subscription;
  requests: number;
  errors: number;
  processingNs: number;
  queueNs: number;
  inFlight: number;
  rejected: number;
  expired: number;
  panics: number;
  lastError: string;
}

/** endpointMetadata is an endpoint's $SRV.INFO metadata (wire.md §8), as the Go runtime sends it. */
export function endpointMetadata(m: MethodSpec): Record<string, string> {
  const md: Record<string, string> = {
    "natsrpc.procedure": m.procedure,
    "natsrpc.request": m.desc.input.typeName,
    "natsrpc.response": m.desc.output.typeName,
    "natsrpc.kind": m.kind,
    "natsrpc.idempotency": m.idempotency,
    "natsrpc.content_types": `${contentTypeProto},${contentTypeJson}`,
  };
  if (m.timeout !== "") {
    md["natsrpc.timeout"] = m.timeout;
  }
  if (m.deprecated) {
    md["natsrpc.deprecated"] = "true";
  }
  if (m.kind === "event") {
    md["natsrpc.delivery"] = m.durable !== undefined ? "durable" : m.delivery!;
  }
  return md;
}

/**
 * registerHandler starts serving impl, the unary handlers of service, on
 * nc: one queue subscription per method on its subject (with the
 * subjectPrefix) in the method's queue group, a bounded handler pool, and
 * NATS micro discovery. It resolves once the server has the
 * subscriptions, so a call right after it never sees no responders. It
 * rejects when the service's options are invalid, when impl names a
 * method that is not a unary method of the service, or when an option is
 * invalid.
 */
export async function registerHandler<S extends DescService>(
  service: S,
  impl: ServiceImpl<S>,
  nc: NatsConnection,
  options: HandlerOptions = {},
): Promise<NatsRpcService> {
  const spec = forService(service);
  const prefix = options.subjectPrefix ?? "";
  if (prefix !== "") {
    const err = validateSubject(prefix);
    if (err !== undefined) {
      throw new Error(`natsrpc: register ${JSON.stringify(spec.fullName)}: subject prefix ${JSON.stringify(prefix)}: ${err}`);
    }
  }
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
  const maxTimeoutMs = options.maxTimeoutMs ?? DEFAULT_MAX_TIMEOUT_MS;
  for (const [name, v] of [["concurrency", concurrency], ["maxTimeoutMs", maxTimeoutMs]] as const) {
    if (!(v >= 1) || !Number.isFinite(v)) {
      throw new Error(`natsrpc: register ${JSON.stringify(spec.fullName)}: ${name} ${v} must be at least 1`);
    }
  }
  if (!(maxPending >= 0) || !Number.isFinite(maxPending)) {
    throw new Error(`natsrpc: register ${JSON.stringify(spec.fullName)}: maxPending ${maxPending} must not be negative`);
  }
  const s = new Service(nc, spec, prefix, concurrency, maxPending, maxTimeoutMs, options.registry ?? registryFor(service));
  const byLocal = new Map(spec.methods.map((m) => [m.desc.localName, m]));
  const problems: string[] = [];
  for (const [name, fn] of Object.entries(impl as Record<string, unknown>)) {
    if (fn === undefined) {
      continue;
    }
    const m = byLocal.get(name);
    if (m === undefined) {
      problems.push(`${JSON.stringify(name)} is not a method of the service`);
    } else if (typeof fn !== "function") {
      problems.push(`the handler of ${JSON.stringify(name)} is not a function`);
    } else if (m.kind !== "unary") {
      problems.push(`${m.name} is ${m.kind === "event" ? "an event" : `a ${m.kind.replace("_", " ")} method`}: the TypeScript runtime serves unary methods only`);
    } else if (m.skip) {
      problems.push(`${m.name} is skipped by its natsrpc options (skip): it has no subject to serve`);
    } else {
      s.add(m, fn as UnaryImpl<DescMessage, DescMessage>);
    }
  }
  if (problems.length > 0) {
    throw new Error(`natsrpc: register ${JSON.stringify(spec.fullName)}: ${problems.join("; ")}`);
  }
  await s.subscribe();
  return s;
}

class Service implements NatsRpcService {
  readonly name: string;
  readonly id = nuid.next();
  private readonly endpoints: Endpoint[] = [];
  private readonly metadata: Record<string, string>;
  private readonly started = new Date();
  private readonly queue: Request[] = [];
  private running = 0;
  private readonly controllers = new Set<AbortController>();
  private discovery: Subscription[] = [];
  private stopping: Promise<void> | undefined;
  private idle: (() => void) | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly spec: ServiceSpec,
    private readonly prefix: string,
    private readonly concurrency: number,
    private readonly maxPending: number,
    private readonly maxTimeoutMs: number,
    private readonly registry: Registry,
  ) {
    this.name = spec.microName;
    this.metadata = {
      "natsrpc.version": VERSION,
      "natsrpc.runtime": "typescript",
      "proto.service": spec.fullName,
      "proto.package": spec.desc.file.proto.package,
    };
  }

  add(m: MethodSpec, impl: UnaryImpl<DescMessage, DescMessage>): void {
    this.endpoints.push({
      spec: m,
      subject: this.prefix === "" ? m.subject : `${this.prefix}.${m.subject}`,
      timeoutMs: m.timeoutMs > 0 ? Math.min(m.timeoutMs, this.maxTimeoutMs) : this.maxTimeoutMs,
      impl,
      metadata: endpointMetadata(m),
      requests: 0,
      errors: 0,
      processingNs: 0,
      queueNs: 0,
      inFlight: 0,
      rejected: 0,
      expired: 0,
      panics: 0,
      lastError: "",
    });
  }

  async subscribe(): Promise<void> {
    try {
      for (const ep of this.endpoints) {
        const cb = (err: Error | null, msg: Msg): void => {
          if (err === null) {
            this.onMsg(ep, msg);
          }
        };
        ep.sub = ep.spec.queueGroup !== ""
          ? this.nc.subscribe(ep.subject, { queue: ep.spec.queueGroup, callback: cb })
          : this.nc.subscribe(ep.subject, { callback: cb });
      }
      const onDiscovery = (err: Error | null, msg: Msg): void => {
        if (err === null) {
          this.onDiscovery(msg);
        }
      };
      for (const subject of ["$SRV.*", `$SRV.*.${this.name}`, `$SRV.*.${this.name}.${this.id}`]) {
        this.discovery.push(this.nc.subscribe(subject, { callback: onDiscovery }));
      }
      await this.nc.flush();
    } catch (e) {
      this.unsubscribeAll();
      throw e;
    }
  }

  private unsubscribeAll(): void {
    for (const ep of this.endpoints) {
      ep.sub?.unsubscribe();
    }
    for (const sub of this.discovery) {
      sub.unsubscribe();
    }
  }

  /** onMsg admits one request: it checks the headers, computes the deadline and queues it. */
  private onMsg(ep: Endpoint, msg: Msg): void {
    const arrived = now();
    if (msg.reply === undefined || msg.reply === "") {
      this.record(ep, 0, Code.InvalidArgument, "request has no reply subject: send it with request/reply");
      return;
    }
    const ct = headerGet(msg.headers, headerContentType);
    const codec = parseContentType(ct);
    if (codec === undefined) {
      this.reject(ep, msg, "proto", new NatsRpcError(`unsupported Content-Type ${JSON.stringify(ct)}: use ${contentTypeProto} or ${contentTypeJson}`, Code.InvalidArgument));
      return;
    }
    const enc = headerGet(msg.headers, headerEncoding);
    if (enc !== "") {
      // A compressed body this runtime cannot decode (wire.md §15): refuse
      // it rather than decode compressed bytes as a message.
      this.reject(ep, msg, codec, new NatsRpcError(`unsupported ${headerEncoding} ${JSON.stringify(enc)}: this runtime decodes no compressed bodies; call without compression`, Code.InvalidArgument));
      return;
    }
    let timeout = ep.timeoutMs;
    const tv = headerGet(msg.headers, headerTimeout);
    if (tv !== "") {
      const t = parseTimeout(tv);
      if (t === undefined) {
        this.reject(ep, msg, codec, new NatsRpcError(`invalid ${headerTimeout} header ${JSON.stringify(tv)}: want 1 to 10 digits of milliseconds`, Code.InvalidArgument));
        return;
      }
      if (t <= 0) {
        ep.expired++;
        this.record(ep, 0, Code.DeadlineExceeded, "request expired before a worker took it; dropped without an answer");
        return;
      }
      timeout = Math.min(t, this.maxTimeoutMs);
    }
    const r: Request = { ep, msg, codec, arrived, deadline: arrived + timeout };
    if (this.running < this.concurrency) {
      this.running++;
      void this.serve(r);
    } else if (this.queue.length < this.maxPending) {
      this.queue.push(r);
    } else {
      ep.rejected++;
      this.reject(ep, msg, codec, new NatsRpcError("service overloaded: all workers busy and the queue full; retry with backoff", Code.ResourceExhausted));
    }
  }

  private reject(ep: Endpoint, msg: Msg, codec: Codec, e: NatsRpcError): void {
    this.record(ep, 0, e.code, e.rawMessage);
    this.sendError(msg.reply!, codec, undefined, e);
  }

  /** serve runs one request, then the next queued ones, on this slot. */
  private async serve(first: Request): Promise<void> {
    let r: Request | undefined = first;
    while (r !== undefined) {
      await this.serveOne(r);
      r = this.queue.shift();
    }
    this.running--;
    if (this.running === 0 && this.idle !== undefined) {
      this.idle();
    }
  }

  private async serveOne(r: Request): Promise<void> {
    const { ep, msg, codec } = r;
    const start = now();
    ep.queueNs += Math.round((start - r.arrived) * 1e6);
    if (start >= r.deadline) {
      // The caller has given up: answering would only waste work.
      ep.expired++;
      this.record(ep, 0, Code.DeadlineExceeded, "request expired before a worker took it; dropped without an answer");
      return;
    }
    ep.inFlight++;
    const ac = new AbortController();
    this.controllers.add(ac);
    const remaining = r.deadline - start;
    const cancelTimer = timer(remaining, () => ac.abort(timeoutReason()));
    const responseHeader = natsHeaders();
    const ctx: HandlerContext = {
      method: ep.spec,
      signal: ac.signal,
      deadline: Date.now() + remaining,
      requestHeader: msg.headers ?? natsHeaders(),
      responseHeader,
    };
    let err: NatsRpcError | undefined;
    let lastError = "";
    let data: Uint8Array | undefined;
    const hdr = natsHeaders();
    try {
      let req: MessageShape<DescMessage>;
      try {
        req = decodeMessage(codec, ep.spec.desc.input, msg.data, this.registry);
      } catch (e) {
        throw new NatsRpcError(`decode ${JSON.stringify(ep.spec.desc.input.typeName)}: ${e instanceof Error ? e.message : String(e)}`, Code.InvalidArgument);
      }
      const res = await ep.impl(req, ctx);
      if (res === undefined || res === null) {
        throw new NatsRpcError("handler returned no response and no error", Code.Internal);
      }
      try {
        data = encodeMessage(codec, ep.spec.desc.output, toMessage(ep.spec.desc.output, res), this.registry);
      } catch (e) {
        throw new NatsRpcError(`encode ${JSON.stringify(ep.spec.desc.output.typeName)}: ${e instanceof Error ? e.message : String(e)}`, Code.Internal);
      }
      copyAllowedHeaders(hdr, responseHeader);
      if (codec === "json") {
        hdr.set(headerContentType, contentTypeJson);
      }
      const limit = maxPayload(this.nc);
      const size = headerBytes(hdr) + data.length;
      if (limit > 0 && size > limit) {
        data = undefined;
        throw new NatsRpcError(`response of ${size} bytes (headers included) is larger than the NATS server's max_payload of ${limit} bytes`, Code.ResourceExhausted);
      }
    } catch (e) {
      [err, lastError] = this.handlerError(ep, e, ac.signal);
    } finally {
      cancelTimer();
      this.controllers.delete(ac);
      ep.inFlight--;
    }
    if (err !== undefined) {
      this.record(ep, now() - start, err.code, lastError);
      this.sendError(msg.reply!, codec, responseHeader, err);
      return;
    }
    this.record(ep, now() - start, 0, "");
    try {
      this.nc.publish(msg.reply!, data!, hdr.keys().length > 0 ? { headers: hdr } : undefined);
    } catch (e) {
      ep.errors++;
      ep.lastError = `unavailable: send response: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  /**
   * handlerError maps what a handler threw (wire.md §5, as the Go runtime
   * does): a NatsRpcError keeps its code; a handler that gave up because
   * its signal fired gets canceled or deadline_exceeded; any other Error
   * is unknown with its message; a thrown non-Error value (JavaScript's
   * panic) is internal, its value kept out of the answer and shown in the
   * stats. It returns the error to send and the last_error text.
   */
  private handlerError(ep: Endpoint, e: unknown, signal: AbortSignal): [NatsRpcError, string] {
    if (isNatsRpcError(e)) {
      return [e, e.rawMessage];
    }
    if (signal.aborted && (e === signal.reason || (e instanceof Error && (e.name === "AbortError" || e.name === "TimeoutError")))) {
      const reason = signal.reason as Error;
      const code = reason?.name === "TimeoutError" ? Code.DeadlineExceeded : Code.Canceled;
      const err = new NatsRpcError(e instanceof Error ? e.message : String(e), code);
      return [err, err.rawMessage];
    }
    if (e instanceof Error) {
      const err = new NatsRpcError(e.message, e.name === "TimeoutError" ? Code.DeadlineExceeded : e.name === "AbortError" ? Code.Canceled : Code.Unknown);
      return [err, err.rawMessage];
    }
    ep.panics++;
    return [new NatsRpcError("handler panicked", Code.Internal), `handler panicked: ${String(e)}`];
  }

  private sendError(reply: string, codec: Codec, responseHeader: MsgHdrs | undefined, e: NatsRpcError): void {
    const { headers, body } = encodeError(e.code, e.rawMessage, e.details, e.metadata, codec);
    copyAllowedHeaders(headers, responseHeader, true);
    try {
      this.nc.publish(reply, body, { headers });
    } catch {
      // The connection is closing; the caller times out.
    }
  }

  /** record counts one ended request; code 0 is a success. */
  private record(ep: Endpoint, elapsedMs: number, code: number, message: string): void {
    ep.requests++;
    ep.processingNs += Math.round(elapsedMs * 1e6);
    if (code !== 0) {
      ep.errors++;
      ep.lastError = message === "" ? codeName(code) : `${codeName(code)}: ${message}`;
    }
  }

  private identity(): MicroIdentity {
    return { name: this.name, id: this.id, version: this.spec.version, metadata: { ...this.metadata } };
  }

  info(): MicroInfo {
    return {
      ...this.identity(),
      type: "io.nats.micro.v1.info_response",
      description: this.spec.fullName,
      endpoints: this.endpoints.map((ep) => ({
        name: ep.spec.name,
        subject: ep.subject,
        queue_group: ep.spec.queueGroup,
        metadata: { ...ep.metadata },
      })),
    };
  }

  stats(): MicroStats {
    return {
      ...this.identity(),
      type: "io.nats.micro.v1.stats_response",
      started: this.started.toISOString(),
      endpoints: this.endpoints.map((ep) => ({
        name: ep.spec.name,
        subject: ep.subject,
        queue_group: ep.spec.queueGroup,
        num_requests: ep.requests,
        num_errors: ep.errors,
        last_error: ep.lastError,
        processing_time: ep.processingNs,
        average_processing_time: ep.requests > 0 ? Math.floor(ep.processingNs / ep.requests) : 0,
        data: {
          in_flight: ep.inFlight,
          rejected: ep.rejected,
          expired: ep.expired,
          panics: ep.panics,
          queue_time: ep.queueNs,
          average_queue_time: ep.requests > 0 ? Math.floor(ep.queueNs / ep.requests) : 0,
          pool_in_flight: this.running,
          pool_queued: this.queue.length,
          pool_concurrency: this.concurrency,
          pool_max_pending: this.maxPending,
        },
      })),
    };
  }

  private onDiscovery(msg: Msg): void {
    if (msg.reply === undefined || msg.reply === "") {
      return;
    }
    const verb = msg.subject.split(".")[1];
    let v: unknown;
    switch (verb) {
      case "PING":
        v = { ...this.identity(), type: "io.nats.micro.v1.ping_response" };
        break;
      case "INFO":
        v = this.info();
        break;
      case "STATS":
        v = this.stats();
        break;
      default:
        return;
    }
    try {
      msg.respond(new TextEncoder().encode(JSON.stringify(v)));
    } catch {
      // connection closing
    }
  }

  stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.stopping === undefined) {
      this.stopping = this.doStop(options.timeoutMs ?? 30_000);
    }
    return this.stopping;
  }

  private async doStop(timeoutMs: number): Promise<void> {
    await Promise.all(this.endpoints.map(async (ep) => {
      try {
        await ep.sub?.drain();
      } catch {
        // a closed connection has no subscription left to drain
      }
    }));
    if (this.running > 0) {
      let giveUp: (() => void) | undefined;
      const idle = new Promise<boolean>((resolve) => {
        this.idle = () => resolve(true);
        giveUp = timer(timeoutMs, () => resolve(false));
      });
      const ok = await idle;
      giveUp?.();
      if (!ok) {
        const inFlight = this.running + this.queue.length;
        for (const ac of this.controllers) {
          ac.abort(new NatsRpcError("service stopping", Code.Unavailable));
        }
        this.unsubscribeAll();
        throw new Error(`natsrpc: stop ${JSON.stringify(this.spec.fullName)}: ${inFlight} requests still in flight after ${timeoutMs}ms`);
      }
    }
    for (const sub of this.discovery) {
      sub.unsubscribe();
    }
  }
}

function timeoutReason(): Error {
  const e = new Error("the request's deadline passed");
  e.name = "TimeoutError";
  return e;
}
