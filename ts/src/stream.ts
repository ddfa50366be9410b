// The client side of a server stream (docs/wire.md §11): a handshake on
// the method's subject, then frames. Data frames arrive on the client's
// inbox, compact (no headers: a varint sequence number, then the message)
// or with headers; credit, heartbeats and cancel go to the control inbox
// the service names in its open frame.
import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { createInbox, headers as natsHeaders } from "@nats-io/nats-core";
import type { Msg, MsgHdrs, Subscription } from "@nats-io/nats-core";

import { abortError, maxPayload, now } from "./call.js";
import { timer } from "./timer.js";
import type { CallOptions, ClientCore } from "./client.js";
import { Code } from "./code.js";
import { NatsRpcError } from "./error.js";
import { checkMetadata, headerBytes, headerGet, publicHeaders, toHeaders } from "./headers.js";
import { inboxPrefixOf } from "./mux.js";
import type { MethodSpec } from "./spec.js";
import {
  contentTypeJson,
  decodeMessage,
  decodeReplyError,
  encodeMessage,
  headerContentType,
  headerTimeout,
  parseTimeout,
  timeoutMillis,
  toMessage,
} from "./wire.js";

export const headerStream = "Nats-Rpc-Stream";
export const headerFrame = "Nats-Rpc-Frame";
export const headerSeq = "Nats-Rpc-Seq";
export const headerControl = "Nats-Rpc-Control";
export const headerHeartbeat = "Nats-Rpc-Heartbeat";
export const headerCredit = "Nats-Rpc-Credit";
export const headerCreditBytes = "Nats-Rpc-Credit-Bytes";

/** StreamOptions are one stream's flow-control and liveness settings (wire.md §11.4, §11.6). */
export interface StreamOptions {
  /** How many messages the service may send ahead of what the caller consumed. Default 1024. */
  window?: number;
  /** How many payload bytes it may send ahead. Default 8 MiB. */
  windowBytes?: number;
  /** The client's heartbeat interval, in ms. Default 1000. */
  heartbeatMs?: number;
  /** How long to wait without a frame before giving up (at least three of the service's intervals). Default 5000. */
  livenessMs?: number;
}

export const DEFAULT_STREAM_WINDOW = 1024;
export const DEFAULT_STREAM_WINDOW_BYTES = 8 << 20;
export const DEFAULT_HEARTBEAT_MS = 1000;
export const DEFAULT_LIVENESS_MS = 5000;
const maxPeerHeartbeatMs = 60_000;
const maxControlSubject = 512;

/**
 * ServerStream is the calling side of a server-streaming call: an async
 * iterable of the responses, in order. The stream opens when the method is
 * called (always iterate it to the end or close() it); it ends when the service ends it (the loop ends, or throws the
 * service's NatsRpcError after every message sent before it), when a
 * message is lost on the way (data_loss), when the service vanishes
 * (unavailable), when the call's signal fires or its deadline passes, or
 * when the loop is left early (break, or close()), which tells the service
 * to stop. A slow loop holds the service back: it never sends more than
 * the window ahead of what the loop consumed.
 */
export interface ServerStream<T> extends AsyncIterable<T> {
  /** close stops the stream: the service's handler is canceled. Safe to call more than once. */
  close(): void;
  /** The headers the handler set: after the first message (or the end). */
  readonly responseHeader: MsgHdrs | undefined;
  /** The handler's trailer: after the end. */
  readonly responseTrailer: MsgHdrs | undefined;
  /** Messages received and not yet consumed: never more than the window. */
  readonly buffered: number;
}

/** Frame is what the protocol headers (or a compact frame) say. */
export interface Frame {
  kind: "data" | "open" | "heartbeat" | "credit" | "end" | "cancel";
  seq: number;
  credit?: [number, number];
  control?: string;
  heartbeatMs?: number;
  /** A compact data frame's message bytes (after the varint). */
  body?: Uint8Array;
}

/** parseCount reads 1 to 19 ASCII digits. */
function parseCount(v: string): number | undefined {
  return /^[0-9]{1,19}$/.test(v) ? Number(v) : undefined;
}

/**
 * readUvarint reads a minimal unsigned LEB128 varint at the start of b:
 * [value, length], or undefined when b does not start with one (too long,
 * truncated, or with redundant continuation bytes).
 */
export function readUvarint(b: Uint8Array): [number, number] | undefined {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < b.length && i < 10; i++) {
    const c = b[i]!;
    if (i === 9 && c > 1) {
      return undefined; // overflows 64 bits
    }
    v += (c & 0x7f) * mul;
    mul *= 128;
    if ((c & 0x80) === 0) {
      if (i > 0 && c === 0) {
        return undefined; // a redundant 0x80 before a zero byte: not minimal
      }
      return [v, i + 1];
    }
  }
  return undefined;
}

/** appendUvarint encodes v as a minimal varint. */
export function uvarint(v: number): Uint8Array {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** validInbox: literal tokens, no whitespace or wildcard characters, bounded length. */
function validInbox(s: string): boolean {
  if (s === "" || s.length > maxControlSubject) {
    return false;
  }
  for (const tok of s.split(".")) {
    if (tok === "") {
      return false;
    }
    for (let i = 0; i < tok.length; i++) {
      const c = tok.charCodeAt(i);
      if (c <= 0x20 || c === 0x7f || c === 0x2a || c === 0x3e) {
        return false;
      }
    }
  }
  return true;
}

/**
 * readFrame reads the frame m is (wire.md §11.1); it throws a string
 * saying what is malformed.
 */
export function readFrame(m: Msg): Frame {
  const h = m.headers;
  if (h === undefined || h.keys().length === 0) {
    const r = readUvarint(m.data);
    if (r === undefined) {
      throw "a frame without headers (a compact data frame) must start with its sequence number as a minimal uvarint";
    }
    if (r[0] === 0) {
      throw "compact data frame numbered 0: data frames are numbered from 1";
    }
    return { kind: "data", seq: r[0], body: m.data.subarray(r[1]) };
  }
  const fv = headerGet(h, headerFrame);
  let kind: Frame["kind"];
  switch (fv) {
    case "":
      kind = "data";
      break;
    case "open":
    case "heartbeat":
    case "credit":
    case "end":
    case "cancel":
      kind = fv;
      break;
    default:
      throw `unknown ${headerFrame} ${JSON.stringify(fv)}`;
  }
  const sv = headerGet(h, headerSeq);
  const seq = parseCount(sv);
  if (seq === undefined) {
    throw `${headerSeq} ${JSON.stringify(sv)}: want 1 to 19 ASCII digits`;
  }
  if (kind === "data" && seq === 0) {
    throw `data frame with ${headerSeq} 0: data frames are numbered from 1`;
  }
  const f: Frame = { kind, seq };
  const cv = headerGet(h, headerCredit);
  const cbv = headerGet(h, headerCreditBytes);
  if (cv !== "" || cbv !== "") {
    const c = parseCount(cv);
    const cb = parseCount(cbv);
    if (c === undefined || cb === undefined) {
      throw `${headerCredit} ${JSON.stringify(cv)}, ${headerCreditBytes} ${JSON.stringify(cbv)}: want both, 1 to 19 ASCII digits each`;
    }
    f.credit = [c, cb];
  }
  if (kind === "open") {
    const control = headerGet(h, headerControl);
    if (!validInbox(control)) {
      throw `open frame's ${headerControl} ${JSON.stringify(control)} is not a literal NATS subject`;
    }
    f.control = control;
    const hv = headerGet(h, headerHeartbeat);
    const hb = parseTimeout(hv);
    if (hb === undefined || hb <= 0) {
      throw `${headerHeartbeat} ${JSON.stringify(hv)}: want a positive number of milliseconds (1 to 10 digits)`;
    }
    f.heartbeatMs = hb;
  }
  return f;
}

function positive(v: number | undefined, name: string, fallback: number): number {
  if (v === undefined) {
    return fallback;
  }
  if (!(v >= 1) || !Number.isFinite(v)) {
    throw new NatsRpcError(`stream option ${name} ${v} must be at least 1`, Code.InvalidArgument);
  }
  return Math.floor(v);
}

/** ServerStreamCall is one server-streaming call; see ServerStream. */
export class ServerStreamCall<O extends DescMessage> implements ServerStream<MessageShape<O>> {
  private window = DEFAULT_STREAM_WINDOW;
  private windowBytes = DEFAULT_STREAM_WINDOW_BYTES;
  private heartbeatMs = DEFAULT_HEARTBEAT_MS;
  private ownLivenessMs = DEFAULT_LIVENESS_MS;
  private livenessMs = 0;

  private opened = false;
  private finished = false;
  private peerEnded = false;
  private sub: Subscription | undefined;
  private control = "";
  private tick: ReturnType<typeof setInterval> | undefined;
  private cancelDeadline: (() => void) | undefined;
  private onAbort: (() => void) | undefined;
  private startedAt = 0;
  private lastHeard = 0;
  private lastSent = 0;

  private readonly queue: Uint8Array[] = [];
  private received = 0;
  private receivedBytes = 0;
  private consumed = 0;
  private consumedBytes = 0;
  private grantSeq = 0;
  private grantBytes = 0;
  private ended = false;
  private endError: NatsRpcError | undefined;
  private failure: NatsRpcError | undefined;
  private failNow = false;
  private wake: (() => void) | undefined;

  responseHeader: MsgHdrs | undefined;
  responseTrailer: MsgHdrs | undefined;

  constructor(
    private readonly core: ClientCore,
    private readonly m: MethodSpec,
    private readonly subject: string,
    private readonly request: MessageInitShape<DescMessage>,
    private readonly opts: CallOptions,
  ) {
    // The stream opens at once, as the Go client's does: the service
    // starts sending (up to the window) while the caller gets ready to
    // read.
    this.start();
  }

  get buffered(): number {
    return this.queue.length;
  }

  [Symbol.asyncIterator](): AsyncIterator<MessageShape<O>> {
    return {
      next: () => this.next(),
      return: () => {
        this.close();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  close(): void {
    this.abort(new NatsRpcError("stream closed by the client", Code.Canceled), true, true);
  }

  /** start subscribes to a fresh inbox and sends the handshake with the inbox as its reply subject. */
  private start(): void {
    const signal = this.opts.signal;
    if (signal?.aborted) {
      this.fail(abortError(signal.reason, this.subject), true);
      return;
    }
    try {
      this.startOrThrow();
    } catch (e) {
      this.fail(NatsRpcError.from(e), true);
      this.finish();
    }
  }

  private startOrThrow(): void {
    const core = this.core;
    const so = { ...core.stream, ...this.opts.stream };
    this.window = positive(so.window, "window", DEFAULT_STREAM_WINDOW);
    this.windowBytes = positive(so.windowBytes, "windowBytes", DEFAULT_STREAM_WINDOW_BYTES);
    this.heartbeatMs = positive(so.heartbeatMs, "heartbeatMs", DEFAULT_HEARTBEAT_MS);
    this.ownLivenessMs = positive(so.livenessMs, "livenessMs", DEFAULT_LIVENESS_MS);
    if (this.ownLivenessMs < 2 * this.heartbeatMs) {
      throw new NatsRpcError(`heartbeat interval ${this.heartbeatMs}ms and liveness ${this.ownLivenessMs}ms: the liveness must be at least twice the interval`, Code.InvalidArgument);
    }
    this.grantSeq = this.window;
    this.grantBytes = this.windowBytes;
    const h = this.opts.headers === undefined ? natsHeaders() : toHeaders(this.opts.headers);
    const bad = checkMetadata(h);
    if (bad !== undefined) {
      throw new NatsRpcError(bad, Code.InvalidArgument);
    }
    h.set(headerStream, "1");
    h.set(headerCredit, String(this.window));
    h.set(headerCreditBytes, String(this.windowBytes));
    h.set(headerHeartbeat, String(timeoutMillis(this.heartbeatMs)));
    // Only the call's own timeout and the method's own timeout option
    // bound a stream (wire.md §11.7): a service default would cut watches.
    const timeout = this.opts.timeoutMs ?? (this.m.methodTimeoutMs > 0 ? this.m.methodTimeoutMs : undefined);
    if (timeout !== undefined) {
      if (!(timeout > 0)) {
        throw new NatsRpcError(`timeoutMs ${timeout} must be positive`, Code.InvalidArgument);
      }
      h.set(headerTimeout, String(timeoutMillis(timeout)));
      this.cancelDeadline = timer(timeout, () => {
        this.abort(new NatsRpcError(`stream on ${JSON.stringify(this.subject)} passed its deadline`, Code.DeadlineExceeded), true, true);
      });
    }
    if (core.codec === "json") {
      h.set(headerContentType, contentTypeJson);
    }
    let body: Uint8Array;
    try {
      body = encodeMessage(core.codec, this.m.desc.input, toMessage(this.m.desc.input, this.request), core.registry);
    } catch (e) {
      throw new NatsRpcError(`encode request: ${e instanceof Error ? e.message : String(e)}`, Code.InvalidArgument, { cause: e });
    }
    const limit = maxPayload(core.nc);
    const size = headerBytes(h) + body.length;
    if (limit > 0 && size > limit) {
      throw new NatsRpcError(`request of ${size} bytes (headers included) is larger than the NATS server's max_payload of ${limit} bytes`, Code.ResourceExhausted);
    }
    const signal = this.opts.signal;
    if (signal !== undefined) {
      this.onAbort = () => this.abort(abortError(signal.reason, this.subject), true, true);
      signal.addEventListener("abort", this.onAbort, { once: true });
    }
    const inbox = createInbox(inboxPrefixOf(core.nc));
    this.sub = core.nc.subscribe(inbox, {
      callback: (err, msg) => {
        if (err !== null) {
          this.abort(new NatsRpcError(`stream inbox on ${JSON.stringify(this.subject)}: ${err.message}`, Code.Unavailable, { cause: err }), false, false);
          return;
        }
        this.onFrame(msg);
      },
    });
    this.startedAt = now();
    this.lastHeard = this.startedAt;
    this.lastSent = this.startedAt;
    core.nc.publish(this.subject, body, { reply: inbox, headers: h });
    this.tick = setInterval(() => this.keepalive(), Math.max(this.heartbeatMs / 2, 5));
  }

  /** keepalive sends heartbeats while the client is silent and gives up when the service falls silent. */
  private keepalive(): void {
    const t = now();
    if (!this.opened) {
      if (t - this.startedAt > this.ownLivenessMs) {
        this.abort(new NatsRpcError(`no answer from the service on ${JSON.stringify(this.subject)} within ${this.ownLivenessMs}ms`, Code.Unavailable), false, false);
      }
      return;
    }
    const silent = t - this.lastHeard;
    if (silent > this.livenessMs) {
      this.abort(new NatsRpcError(`the service on ${JSON.stringify(this.subject)} stopped responding: nothing heard for ${Math.round(silent)}ms`, Code.Unavailable), false, true);
      return;
    }
    if (t - this.lastSent >= this.heartbeatMs / 2) {
      this.sendControl("heartbeat", true);
    }
  }

  /** sendControl sends a control frame to the service (numbered 0: a server stream's client sends no data). */
  private sendControl(kind: "heartbeat" | "credit" | "cancel", withCredit: boolean): void {
    if (this.control === "" || this.peerEnded) {
      return;
    }
    const h = natsHeaders();
    h.set(headerFrame, kind);
    h.set(headerSeq, "0");
    if (withCredit) {
      h.set(headerCredit, String(this.grantSeq));
      h.set(headerCreditBytes, String(this.grantBytes));
    }
    try {
      this.core.nc.publish(this.control, new Uint8Array(0), { headers: h });
      this.lastSent = now();
    } catch {
      // The connection is closing: liveness ends the stream.
    }
  }

  private onFrame(m: Msg): void {
    this.lastHeard = now();
    if (this.finished) {
      return;
    }
    if (m.data.length === 0 && m.headers?.code === 503) {
      this.abort(new NatsRpcError(`no service instance listens on ${JSON.stringify(this.subject)}: no responders`, Code.Unavailable), false, false);
      return;
    }
    let f: Frame;
    try {
      f = readFrame(m);
    } catch (e) {
      this.abort(new NatsRpcError(`malformed stream frame from the service on ${JSON.stringify(this.subject)}: ${String(e)}`, Code.Internal), false, true);
      return;
    }
    const violation = (what: string): void => {
      this.abort(new NatsRpcError(`stream protocol violation by the service on ${JSON.stringify(this.subject)}: ${what}`, Code.Internal), false, true);
    };
    switch (f.kind) {
      case "open":
        if (this.opened) {
          violation("a second open frame");
          return;
        }
        this.control = f.control!;
        this.livenessMs = Math.max(this.ownLivenessMs, 3 * Math.min(f.heartbeatMs!, maxPeerHeartbeatMs));
        this.opened = true;
        return;
      case "data": {
        if (!this.opened) {
          violation("a data frame before the open frame");
          return;
        }
        if (this.ended || this.failure !== undefined) {
          return;
        }
        const gap = this.checkSeq(f.seq, true);
        if (gap !== undefined) {
          this.abort(gap, false, true);
          return;
        }
        if (f.seq > this.grantSeq || this.receivedBytes >= this.grantBytes) {
          this.abort(new NatsRpcError(`peer sent message ${f.seq} beyond its credit (${this.grantSeq} messages, ${this.grantBytes} bytes): protocol violation`, Code.Internal), false, true);
          return;
        }
        const body = f.body ?? m.data;
        this.received = f.seq;
        this.receivedBytes += body.length;
        if (this.responseHeader === undefined) {
          this.responseHeader = publicHeaders(m.headers);
          this.opts.onHeader?.(this.responseHeader);
        }
        this.queue.push(body);
        this.signal();
        return;
      }
      case "heartbeat":
      case "credit": {
        if (!this.opened) {
          violation(`a ${f.kind} frame before the open frame`);
          return;
        }
        if (this.ended || this.failure !== undefined) {
          return;
        }
        const gap = this.checkSeq(f.seq, false);
        if (gap !== undefined) {
          this.abort(gap, false, true);
        }
        // A server stream's client sends no data: credit for it is moot.
        return;
      }
      case "end": {
        const e = decodeReplyError(m);
        this.peerEnded = true;
        if (!this.opened) {
          // Refused before opening: overloaded, invalid, unimplemented.
          this.abort(e ?? new NatsRpcError("the service ended the stream before opening it", Code.Internal), false, false);
          return;
        }
        if (this.ended || this.failure !== undefined) {
          return;
        }
        if (f.seq !== this.received) {
          const what = f.seq > this.received
            ? `stream lost messages: the peer ended after ${f.seq} messages, ${this.received} arrived`
            : `stream ended after ${f.seq} messages, but ${this.received} arrived`;
          this.abort(new NatsRpcError(what, Code.DataLoss), false, false);
          return;
        }
        this.ended = true;
        this.endError = e;
        this.responseTrailer = publicHeaders(m.headers);
        if (this.responseHeader === undefined) {
          this.responseHeader = this.responseTrailer;
          this.opts.onHeader?.(this.responseHeader);
        }
        this.opts.onTrailer?.(this.responseTrailer);
        this.signal();
        this.finish();
        return;
      }
      default:
        violation(`a ${f.kind} frame`);
    }
  }

  /** checkSeq verifies a frame's number against the data frames received (wire.md §11.1). */
  private checkSeq(seq: number, data: boolean): NatsRpcError | undefined {
    const want = data ? this.received + 1 : this.received;
    if (seq === want) {
      return undefined;
    }
    if (seq > want && data) {
      return new NatsRpcError(`stream lost messages: received message ${seq}, expected ${want}`, Code.DataLoss);
    }
    if (seq > want) {
      return new NatsRpcError(`stream lost messages: the peer has sent ${seq}, ${this.received} arrived`, Code.DataLoss);
    }
    return new NatsRpcError(`stream messages repeated or reordered: received number ${seq} after ${this.received}`, Code.DataLoss);
  }

  private signal(): void {
    const w = this.wake;
    if (w !== undefined) {
      this.wake = undefined;
      w();
    }
  }

  private fail(e: NatsRpcError, immediately: boolean): void {
    if (this.failure !== undefined || (this.ended && !immediately)) {
      return;
    }
    this.failure = e;
    this.failNow = immediately;
    this.signal();
  }

  /**
   * abort ends the stream locally with e: immediately reports e before
   * the messages already received (the caller gave up); tellPeer sends the
   * service a cancel frame so that its handler stops.
   */
  private abort(e: NatsRpcError, immediately: boolean, tellPeer: boolean): void {
    if (this.finished) {
      if (immediately && this.failure === undefined) {
        this.fail(e, true);
      }
      return;
    }
    this.fail(e, immediately);
    if (tellPeer && this.opened && !this.peerEnded) {
      this.sendControl("cancel", false);
    }
    this.finish();
  }

  /** finish releases the network side; received messages stay readable. */
  private finish(): void {
    if (this.finished) {
      return;
    }
    this.finished = true;
    if (this.tick !== undefined) {
      clearInterval(this.tick);
    }
    this.cancelDeadline?.();
    if (this.onAbort !== undefined) {
      this.opts.signal?.removeEventListener("abort", this.onAbort);
    }
    try {
      this.sub?.unsubscribe();
    } catch {
      // already closed with the connection
    }
  }

  private async next(): Promise<IteratorResult<MessageShape<O>>> {
    for (;;) {
      if (this.failure !== undefined && this.failNow) {
        throw this.failure;
      }
      const body = this.queue.shift();
      if (body !== undefined) {
        this.consumed++;
        this.consumedBytes += body.length;
        if (!this.ended && this.failure === undefined) {
          const wantSeq = this.consumed + this.window;
          const wantBytes = this.consumedBytes + this.windowBytes;
          if (wantSeq - this.grantSeq >= Math.max(Math.floor(this.window / 2), 1) ||
            wantBytes - Math.min(wantBytes, this.grantBytes) >= Math.max(Math.floor(this.windowBytes / 2), 1)) {
            this.grantSeq = Math.max(this.grantSeq, wantSeq);
            this.grantBytes = Math.max(this.grantBytes, wantBytes);
            this.sendControl("credit", true);
          }
        }
        try {
          return { done: false, value: decodeMessage(this.core.codec, this.m.desc.output, body, this.core.registry) as MessageShape<O> };
        } catch (e) {
          const err = new NatsRpcError(`decode ${JSON.stringify(this.m.desc.output.typeName)} stream message: ${e instanceof Error ? e.message : String(e)}`, Code.Internal, { cause: e });
          this.abort(err, true, true);
          throw err;
        }
      }
      if (this.failure !== undefined) {
        throw this.failure;
      }
      if (this.ended) {
        if (this.endError !== undefined) {
          throw this.endError;
        }
        return { done: true, value: undefined };
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }
}
