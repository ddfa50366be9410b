// Code classifies a NatsRpcError. The names and numbers are gRPC's (and
// Connect's), the same as the Go runtime's natsrpc.Code, so that an error
// means the same thing whichever language sent it (docs/wire.md §5).
//
// There is no code for success: a call that resolves succeeded. codeName(0)
// is "ok" so that metrics can label successful calls.
export enum Code {
  /** The caller canceled the call (its AbortSignal fired). */
  Canceled = 1,
  /** The handler failed with an error that carries no code. */
  Unknown = 2,
  /** The request is invalid: a malformed field, an undecodable body, a bad header. */
  InvalidArgument = 3,
  /** The deadline passed before the call completed. It may still have had effects. */
  DeadlineExceeded = 4,
  /** A requested entity was not found. */
  NotFound = 5,
  /** An entity the caller tried to create exists. */
  AlreadyExists = 6,
  /** The caller is identified but not allowed to do this. */
  PermissionDenied = 7,
  /** A limit was hit: the service is overloaded, a quota ran out, or a message is larger than max_payload. */
  ResourceExhausted = 8,
  /** The system is not in a state the call needs. */
  FailedPrecondition = 9,
  /** The call was aborted, typically by a concurrency conflict. */
  Aborted = 10,
  /** The call asked for something past a valid range. */
  OutOfRange = 11,
  /** The service does not implement the method. */
  Unimplemented = 12,
  /** An invariant of the service broke. */
  Internal = 13,
  /** The service cannot be reached right now (no responders, connection down). */
  Unavailable = 14,
  /** Unrecoverable data loss or corruption (a stream lost messages on the way). */
  DataLoss = 15,
  /** The caller could not be identified. */
  Unauthenticated = 16,
}

const names: readonly string[] = [
  "ok",
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
];

/**
 * codeName returns the code's snake_case name as sent in the Nats-Rpc-Code
 * header, e.g. "not_found"; 0 is "ok" and codes outside the table are
 * "code_N".
 */
export function codeName(code: number): string {
  if (Number.isInteger(code) && code >= 0 && code < names.length) {
    return names[code]!;
  }
  return `code_${code}`;
}

/**
 * parseCode reads a code name: the names of codeName ("ok" for 0) and
 * "code_N" for any N that fits in 32 bits, without leading zeros. It
 * returns undefined for anything else.
 */
export function parseCode(s: string): number | undefined {
  const i = names.indexOf(s);
  if (i >= 0) {
    return i;
  }
  if (s.startsWith("code_")) {
    const n = s.slice(5);
    if (/^(0|[1-9][0-9]{0,9})$/.test(n)) {
      const v = Number(n);
      if (v <= 0xffffffff) {
        return v;
      }
    }
  }
  return undefined;
}

/**
 * httpStatus is the HTTP-like number sent in Nats-Service-Error-Code
 * (Connect's table), so that tools that only know ADR-32 see a sensible
 * number.
 */
export function httpStatus(code: number): number {
  switch (code) {
    case Code.Canceled:
      return 499;
    case Code.InvalidArgument:
    case Code.FailedPrecondition:
    case Code.OutOfRange:
      return 400;
    case Code.DeadlineExceeded:
      return 504;
    case Code.NotFound:
      return 404;
    case Code.AlreadyExists:
    case Code.Aborted:
      return 409;
    case Code.PermissionDenied:
      return 403;
    case Code.ResourceExhausted:
      return 429;
    case Code.Unimplemented:
      return 501;
    case Code.Unavailable:
      return 503;
    case Code.Unauthenticated:
      return 401;
    default:
      return 500;
  }
}

/**
 * codeFromHttpStatus maps the numeric Nats-Service-Error-Code of a reply
 * without Nats-Rpc-Code (a plain micro service) onto the closest code.
 */
export function codeFromHttpStatus(status: number): Code {
  switch (status) {
    case 400:
      return Code.InvalidArgument;
    case 401:
      return Code.Unauthenticated;
    case 403:
      return Code.PermissionDenied;
    case 404:
      return Code.NotFound;
    case 408:
    case 504:
      return Code.DeadlineExceeded;
    case 409:
      return Code.Aborted;
    case 412:
      return Code.FailedPrecondition;
    case 413:
    case 429:
      return Code.ResourceExhausted;
    case 499:
      return Code.Canceled;
    case 501:
      return Code.Unimplemented;
    case 502:
    case 503:
      return Code.Unavailable;
    default:
      return Code.Unknown;
  }
}

/**
 * codeFromServiceCode maps a Nats-Service-Error-Code value: a number
 * through the HTTP table, a code name in any case ("NOT_FOUND"), anything
 * else to Unknown. It never returns 0: the header only comes with errors.
 */
export function codeFromServiceCode(v: string): number {
  const t = v.trim();
  if (/^[+-]?[0-9]+$/.test(t)) {
    return codeFromHttpStatus(Number(t));
  }
  const c = parseCode(t.toLowerCase());
  if (c !== undefined && c !== 0) {
    return c;
  }
  return Code.Unknown;
}
