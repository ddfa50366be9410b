import { headers as natsHeaders, Match } from "@nats-io/nats-core";
import type { MsgHdrs } from "@nats-io/nats-core";

/**
 * HeadersInit is metadata as callers give it: a record (a value or a list
 * of values per name), an iterable of [name, value] pairs, or nats.js
 * MsgHdrs. NATS header names are case-sensitive on the wire and are sent
 * exactly as written.
 */
export type HeadersInit =
  | Record<string, string | readonly string[]>
  | Iterable<readonly [string, string]>
  | MsgHdrs;

function isMsgHdrs(h: unknown): h is MsgHdrs {
  return typeof h === "object" && h !== null && typeof (h as MsgHdrs).values === "function" &&
    typeof (h as MsgHdrs).keys === "function" && typeof (h as MsgHdrs).append === "function";
}

/** toHeaders copies init into fresh MsgHdrs (empty for undefined). */
export function toHeaders(init: HeadersInit | undefined): MsgHdrs {
  const h = natsHeaders();
  if (init === undefined) {
    return h;
  }
  if (isMsgHdrs(init)) {
    for (const k of init.keys()) {
      for (const v of init.values(k)) {
        h.append(k, v);
      }
    }
    return h;
  }
  if (Symbol.iterator in (init as object)) {
    for (const [k, v] of init as Iterable<readonly [string, string]>) {
      h.append(k, v);
    }
    return h;
  }
  for (const [k, v] of Object.entries(init as Record<string, string | readonly string[]>)) {
    if (typeof v === "string") {
      h.append(k, v);
    } else {
      for (const x of v) {
        h.append(k, x);
      }
    }
  }
  return h;
}

/**
 * headerGet returns the first value of name, or "". Names are compared
 * exactly, as the Go runtime reads the protocol's headers (nats.go's
 * Header.Get is case-sensitive), so that both runtimes read a message the
 * same way.
 */
export function headerGet(h: MsgHdrs | undefined, name: string): string {
  if (h === undefined) {
    return "";
  }
  return h.get(name, Match.Exact);
}

const reservedPrefix = "nats-rpc-";

/**
 * isReservedHeader reports whether name belongs to the runtime (wire.md
 * §2): the Nats-Rpc- prefix, Content-Type, micro's error headers, and
 * Status and Description, which nats clients read as a message's status.
 * Case is ignored.
 */
export function isReservedHeader(name: string): boolean {
  const l = name.toLowerCase();
  return l.startsWith(reservedPrefix) || l === "content-type" || l === "nats-service-error" ||
    l === "nats-service-error-code" || l === "status" || l === "description";
}

/**
 * validHeaderKey mirrors nats.go's rule (ADR-4): printable ASCII without
 * the separators "()<>@,;:\"/[]?={}.
 */
export function validHeaderKey(k: string): boolean {
  if (k === "") {
    return false;
  }
  for (let i = 0; i < k.length; i++) {
    const c = k.charCodeAt(i);
    if (c < 33 || c > 126 || "\"()/,:;<=>?@[\\]{}".includes(k[i]!)) {
      return false;
    }
  }
  return true;
}

/**
 * checkMetadata returns why metadata may not be sent, or undefined: a
 * reserved name, or a name that is not a valid header key.
 */
export function checkMetadata(h: MsgHdrs | undefined): string | undefined {
  if (h === undefined) {
    return undefined;
  }
  for (const k of h.keys()) {
    if (isReservedHeader(k)) {
      return `header ${JSON.stringify(k)} is reserved for the natsrpc runtime (reserved: the Nats-Rpc- prefix, Content-Type, Nats-Service-Error, Nats-Service-Error-Code, Status, Description)`;
    }
    if (!validHeaderKey(k)) {
      return `header key ${JSON.stringify(k)} is not valid: use printable ASCII without separators`;
    }
  }
  return undefined;
}

/**
 * publicHeaders copies the headers of a received message that are not the
 * runtime's: what the application set.
 */
export function publicHeaders(h: MsgHdrs | undefined): MsgHdrs {
  const out = natsHeaders();
  if (h === undefined) {
    return out;
  }
  for (const k of h.keys()) {
    if (isReservedHeader(k)) {
      continue;
    }
    for (const v of h.values(k)) {
      out.append(k, v);
    }
  }
  return out;
}

/**
 * copyAllowedHeaders appends the headers of src that a service may send
 * (not reserved, valid keys) to dst, skipping names dst already has when
 * keepExisting is set.
 */
export function copyAllowedHeaders(dst: MsgHdrs, src: MsgHdrs | undefined, keepExisting = false): void {
  if (src === undefined) {
    return;
  }
  for (const k of src.keys()) {
    if (isReservedHeader(k) || !validHeaderKey(k) || (keepExisting && dst.has(k))) {
      continue;
    }
    if (!keepExisting) {
      dst.delete(k);
    }
    for (const v of src.values(k)) {
      dst.append(k, v);
    }
  }
}

/**
 * headerBytes is the encoded size of h as nats.js sends it ("NATS/1.0",
 * each "name: value" line, the blank line), for the max_payload check.
 */
export function headerBytes(h: MsgHdrs | undefined): number {
  if (h === undefined) {
    return 0;
  }
  let n = 0;
  let any = false;
  for (const [k, vs] of h) {
    for (const v of vs) {
      n += utf8Length(k) + utf8Length(v) + 4;
      any = true;
    }
  }
  return any ? n + 12 : 0;
}

/** utf8Length is the UTF-8 length of s, without encoding it. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      n += 1;
    } else if (c < 0x800) {
      n += 2;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else {
      n += 3;
    }
  }
  return n;
}
