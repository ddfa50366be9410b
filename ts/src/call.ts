// What clients, streams and handlers share: the clock, the errors a call
// makes up (wire.md §6), the server's max_payload, a registry for JSON.
import { createRegistry } from "@bufbuild/protobuf";
import type { DescFile, DescService, Registry } from "@bufbuild/protobuf";
import type { NatsConnection } from "@nats-io/nats-core";

import { Code } from "./code.js";
import { isNatsRpcError, NatsRpcError } from "./error.js";
import { RequestFailed } from "./mux.js";

/** filesOf collects f and its imports, transitively. */
function filesOf(f: DescFile, out: Set<DescFile> = new Set()): Set<DescFile> {
  if (!out.has(f)) {
    out.add(f);
    for (const d of f.dependencies) {
      filesOf(d, out);
    }
  }
  return out;
}

/** registryFor is a registry of the service's file and its imports, for Any in JSON. */
export function registryFor(service: DescService): Registry {
  return createRegistry(...filesOf(service.file));
}

/** now is a monotonic clock in milliseconds. */
export const now = (): number => performance.now();

/**
 * abortError is the error of a call whose signal fired: canceled, or
 * deadline_exceeded when the reason is a timeout (AbortSignal.timeout).
 */
export function abortError(reason: unknown, subject: string): NatsRpcError {
  if (isNatsRpcError(reason)) {
    return reason;
  }
  if (reason instanceof Error && reason.name === "TimeoutError") {
    return new NatsRpcError(`no response on ${JSON.stringify(subject)} before the deadline: ${reason.message}`, Code.DeadlineExceeded, { cause: reason });
  }
  const why = reason instanceof Error ? reason.message : reason === undefined ? "aborted" : String(reason);
  return new NatsRpcError(`call on ${JSON.stringify(subject)} canceled: ${why}`, Code.Canceled, { cause: reason });
}

/** deadlineError is the error of a call whose deadline passed. */
export function deadlineError(subject: string): NatsRpcError {
  return new NatsRpcError(`no response on ${JSON.stringify(subject)} before the deadline`, Code.DeadlineExceeded);
}

/** requestError maps the failures of a request onto codes (wire.md §6). */
export function requestError(e: unknown, subject: string): NatsRpcError {
  if (!(e instanceof RequestFailed)) {
    return NatsRpcError.from(e);
  }
  const f = e.failure;
  switch (f.kind) {
    case "timeout":
      return deadlineError(subject);
    case "aborted":
      return abortError(f.reason, subject);
    case "no_responders":
      return new NatsRpcError(`no service instance listens on ${JSON.stringify(subject)}: no responders`, Code.Unavailable, { cause: e });
    case "closed":
      return new NatsRpcError(`call on ${JSON.stringify(subject)}: connection closed`, Code.Unavailable, { cause: f.cause });
    case "publish": {
      const name = f.cause instanceof Error ? f.cause.name : "";
      const msg = f.cause instanceof Error ? f.cause.message : String(f.cause);
      const code = name === "ClosedConnectionError" || name === "DrainingConnectionError" ? Code.Unavailable
        : name === "InvalidSubjectError" || name === "InvalidArgumentError" ? Code.InvalidArgument
          : Code.Unknown;
      return new NatsRpcError(`call on ${JSON.stringify(subject)}: ${msg}`, code, { cause: f.cause });
    }
  }
}

/** maxPayload is the server's max_payload (0 when unknown). */
export function maxPayload(nc: NatsConnection): number {
  return nc.info?.max_payload ?? 0;
}
