import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { MsgHdrs } from "@nats-io/nats-core";

import { Code, codeName, httpStatus } from "./code.js";
import { toHeaders, type HeadersInit } from "./headers.js";

/**
 * ErrorDetail is one protobuf message attached to an error, as a
 * google.protobuf.Any carries it: the message's full name and its binary
 * encoding. NatsRpcError.findDetails decodes them.
 */
export interface ErrorDetail {
  /** The message's full name, e.g. "gaming.common.v1.Error". */
  readonly type: string;
  /** The message's binary encoding. */
  readonly value: Uint8Array;
}

/**
 * OutgoingDetail is a detail a handler attaches: a message with its schema
 * (encoded when the error is sent), or an already encoded ErrorDetail.
 */
export type OutgoingDetail =
  | { desc: DescMessage; value: MessageInitShape<DescMessage> }
  | ErrorDetail;

/** NatsRpcErrorOptions are the optional parts of a NatsRpcError. */
export interface NatsRpcErrorOptions {
  /** Protobuf messages that travel with the error (docs/wire.md §5). */
  details?: OutgoingDetail[];
  /** Headers sent with the error response (reserved names are dropped). */
  metadata?: HeadersInit;
  /** The error this one wraps, kept as the standard Error cause. */
  cause?: unknown;
}

const errorBrand = Symbol.for("@natsrpc/natsrpc/NatsRpcError");

/**
 * NatsRpcError is the error every natsrpc client call rejects with, and the
 * error a handler throws to choose what the caller sees: a Code, a message,
 * optional protobuf details and optional metadata headers. Its message is
 * "<code name>: <raw message>", as the Go runtime's Error() string.
 *
 * wire tells whether a service sent the error (true) or the client made it
 * up because the call failed locally (no responders, timeout, abort,
 * oversized request), which tells a caller whether any service saw the
 * request.
 */
export class NatsRpcError extends Error {
  /** The error's code; codeName(code) is its wire name. */
  readonly code: number;
  /** The message without the code prefix, as sent in Nats-Service-Error. */
  readonly rawMessage: string;
  /** The details, in order: received ones, or those the handler attached. */
  readonly details: ErrorDetail[];
  /** On a received error, all the headers of the error reply; on a handler's, the headers to send. */
  readonly metadata: MsgHdrs;
  /** True when a service sent the error. */
  readonly wire: boolean;

  override name = "NatsRpcError";

  constructor(message: string, code: number = Code.Unknown, options: NatsRpcErrorOptions = {}, wire = false) {
    super(message === "" ? codeName(code) : `${codeName(code)}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.rawMessage = message;
    this.details = (options.details ?? []).map(encodeDetail);
    this.metadata = toHeaders(options.metadata);
    this.wire = wire;
    Object.defineProperty(this, errorBrand, { value: true });
  }

  /** The code's wire name, e.g. "not_found". */
  get codeName(): string {
    return codeName(this.code);
  }

  /** The HTTP-like number sent in Nats-Service-Error-Code. */
  get httpStatus(): number {
    return httpStatus(this.code);
  }

  /**
   * findDetails decodes the details of type desc, in order; details of
   * other types, and those that do not decode, are skipped.
   */
  findDetails<Desc extends DescMessage>(desc: Desc): MessageShape<Desc>[] {
    const out: MessageShape<Desc>[] = [];
    for (const d of this.details) {
      if (d.type !== desc.typeName) {
        continue;
      }
      try {
        out.push(fromBinary(desc, d.value));
      } catch {
        // A detail that does not decode is skipped: the code and message
        // already say what went wrong.
      }
    }
    return out;
  }

  /**
   * from turns anything thrown into a NatsRpcError: a NatsRpcError is
   * returned as it is, an AbortSignal's reason keeps its meaning
   * (canceled, or deadline_exceeded for a timeout) and anything else is
   * Unknown with its message.
   */
  static from(reason: unknown): NatsRpcError {
    if (isNatsRpcError(reason)) {
      return reason;
    }
    if (reason instanceof Error) {
      if (reason.name === "TimeoutError") {
        return new NatsRpcError(reason.message, Code.DeadlineExceeded, { cause: reason });
      }
      if (reason.name === "AbortError") {
        return new NatsRpcError(reason.message, Code.Canceled, { cause: reason });
      }
      return new NatsRpcError(reason.message, Code.Unknown, { cause: reason });
    }
    return new NatsRpcError(String(reason), Code.Unknown, { cause: reason });
  }
}

/**
 * isNatsRpcError reports whether reason is a NatsRpcError, also one made
 * by another copy of this package.
 */
export function isNatsRpcError(reason: unknown): reason is NatsRpcError {
  return reason instanceof NatsRpcError ||
    (typeof reason === "object" && reason !== null && (reason as Record<symbol, unknown>)[errorBrand] === true);
}

function encodeDetail(d: OutgoingDetail): ErrorDetail {
  if ("desc" in d) {
    return { type: d.desc.typeName, value: toBinary(d.desc, create(d.desc, d.value)) };
  }
  return { type: d.type, value: d.value };
}

/**
 * wireError builds an error received from a service; details and headers
 * are kept as they arrived.
 */
export function wireError(code: number, message: string, details: ErrorDetail[], metadata: MsgHdrs): NatsRpcError {
  const e = new NatsRpcError(message, code, {}, true);
  e.details.push(...details);
  for (const [k, vs] of metadata) {
    for (const v of vs) {
      e.metadata.append(k, v);
    }
  }
  return e;
}
