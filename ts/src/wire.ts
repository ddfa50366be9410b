// The wire contract's encodings (docs/wire.md): header names, content
// types, timeouts, error responses. Nothing here talks to NATS.
import { create, fromBinary, fromJsonString, toBinary, toJsonString } from "@bufbuild/protobuf";
import type { DescMessage, MessageInitShape, MessageShape, Registry } from "@bufbuild/protobuf";
import { base64Decode, base64Encode, BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { headers as natsHeaders } from "@nats-io/nats-core";
import type { Msg, MsgHdrs } from "@nats-io/nats-core";

import { Code, codeFromServiceCode, codeName, httpStatus, parseCode } from "./code.js";
import { wireError, type ErrorDetail, type NatsRpcError } from "./error.js";
import { copyAllowedHeaders, headerGet } from "./headers.js";

export const headerContentType = "Content-Type";
export const headerTimeout = "Nats-Rpc-Timeout";
/**
 * headerEncoding names a compressed body's encoding (wire.md §15). This
 * runtime implements no compression: it never announces
 * Nats-Rpc-Accept-Encoding, so no service compresses a response to it, and
 * its service refuses a request that carries this header.
 */
export const headerEncoding = "Nats-Rpc-Encoding";
export const headerCode = "Nats-Rpc-Code";
export const headerServiceError = "Nats-Service-Error";
export const headerServiceErrorCode = "Nats-Service-Error-Code";
export const headerMsgId = "Nats-Msg-Id";
export const headerExpectedStream = "Nats-Expected-Stream";

export const contentTypeProto = "application/protobuf";
export const contentTypeJson = "application/json";

/** maxTimeoutMillis bounds Nats-Rpc-Timeout: ten digits of milliseconds. */
export const maxTimeoutMillis = 9_999_999_999;
/** maxErrorMessage bounds the message sent in Nats-Service-Error, in bytes. */
export const maxErrorMessage = 4096;

const typeUrlPrefix = "type.googleapis.com/";

/** Codec is a body encoding: binary protobuf or protojson. */
export type Codec = "proto" | "json";

/**
 * parseContentType maps a Content-Type value onto a codec (wire.md §2):
 * absent is protobuf; application/protobuf, application/x-protobuf and
 * application/proto are protobuf; application/json is JSON. Case and
 * parameters are ignored. Anything else is undefined.
 */
export function parseContentType(v: string): Codec | undefined {
  if (v === "") {
    return "proto";
  }
  const semi = v.indexOf(";");
  const mt = (semi >= 0 ? v.slice(0, semi) : v).trim().toLowerCase();
  switch (mt) {
    case contentTypeJson:
      return "json";
    case contentTypeProto:
    case "application/x-protobuf":
    case "application/proto":
      return "proto";
    default:
      return undefined;
  }
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** encodeMessage encodes a message in codec c. */
export function encodeMessage<Desc extends DescMessage>(c: Codec, desc: Desc, msg: MessageShape<Desc>, registry?: Registry): Uint8Array {
  if (c === "json") {
    return textEncoder.encode(toJsonString(desc, msg, registry ? { registry } : undefined));
  }
  return toBinary(desc, msg);
}

/**
 * decodeMessage decodes a body in codec c. An empty body is the empty
 * message in both encodings; JSON ignores unknown fields (wire.md §2).
 */
export function decodeMessage<Desc extends DescMessage>(c: Codec, desc: Desc, data: Uint8Array, registry?: Registry): MessageShape<Desc> {
  if (data.length === 0) {
    return create(desc);
  }
  if (c === "json") {
    return fromJsonString(desc, textDecoder.decode(data), { ignoreUnknownFields: true, ...(registry ? { registry } : {}) });
  }
  return fromBinary(desc, data);
}

/** toMessage makes a message of desc from an init shape (a message is kept as it is). */
export function toMessage<Desc extends DescMessage>(desc: Desc, init: MessageInitShape<Desc> | MessageShape<Desc>): MessageShape<Desc> {
  if (typeof init === "object" && init !== null && (init as { $typeName?: string }).$typeName === desc.typeName) {
    return init as MessageShape<Desc>;
  }
  return create(desc, init as MessageInitShape<Desc>);
}

/**
 * timeoutMillis is a remaining time as the Nats-Rpc-Timeout value: whole
 * milliseconds rounded up (a sub-millisecond remainder is 1, never 0), at
 * most ten digits.
 */
export function timeoutMillis(ms: number): number {
  return Math.min(Math.max(Math.ceil(ms), 1), maxTimeoutMillis);
}

/**
 * parseTimeout reads a Nats-Rpc-Timeout value: 1 to 10 ASCII digits of
 * milliseconds. "0" is valid (the caller has given up). undefined when
 * malformed.
 */
export function parseTimeout(v: string): number | undefined {
  if (!/^[0-9]{1,10}$/.test(v)) {
    return undefined;
  }
  return Number(v);
}

// goSpace is Go's unicode.IsSpace, which strings.TrimSpace trims: JS's
// trim differs (it trims U+FEFF and keeps U+0085).
const goSpace = "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const trimRe = new RegExp(`^${goSpace}+|${goSpace}+$`, "g");

/**
 * sanitizeMessage makes an error message safe for a header value, as the
 * Go runtime does: at most 4096 bytes of UTF-8 (cut at a character
 * boundary), CR and LF as spaces, surrounding white space trimmed.
 */
export function sanitizeMessage(msg: string): string {
  let b = textEncoder.encode(msg);
  if (b.length > maxErrorMessage) {
    let cut = maxErrorMessage;
    while (cut > 0 && (b[cut]! & 0xc0) === 0x80) {
      cut--;
    }
    b = b.subarray(0, cut);
    msg = textDecoder.decode(b);
  }
  msg = msg.replace(/\r\n|\r|\n/g, " ");
  return msg.replace(trimRe, "");
}

/**
 * encodeError renders an error response for a request in codec c (wire.md
 * §5): the three error headers, the error's metadata (reserved names
 * dropped), and a body only when the error has details: a binary
 * google.rpc.Status for protobuf, Connect's JSON error object for JSON.
 */
export function encodeError(code: number, message: string, details: readonly ErrorDetail[], metadata: MsgHdrs | undefined, c: Codec): { headers: MsgHdrs; body: Uint8Array } {
  const h = natsHeaders();
  copyAllowedHeaders(h, metadata);
  let msg = sanitizeMessage(message);
  if (msg === "") {
    msg = codeName(code);
  }
  h.set(headerServiceError, msg);
  h.set(headerServiceErrorCode, String(httpStatus(code)));
  h.set(headerCode, codeName(code));
  if (details.length === 0) {
    return { headers: h, body: new Uint8Array(0) };
  }
  if (c === "json") {
    h.set(headerContentType, contentTypeJson);
    return { headers: h, body: textEncoder.encode(encodeJsonStatus(code, msg, details)) };
  }
  return { headers: h, body: encodeStatus(code, msg, details) };
}

/**
 * encodeStatus renders a google.rpc.Status (code = 1, message = 2,
 * details = 3, each a google.protobuf.Any) by hand.
 */
export function encodeStatus(code: number, message: string, details: readonly ErrorDetail[]): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.Varint).uint32(code);
  w.tag(2, WireType.LengthDelimited).string(message);
  for (const d of details) {
    w.tag(3, WireType.LengthDelimited).fork();
    w.tag(1, WireType.LengthDelimited).string(typeUrlPrefix + d.type);
    w.tag(2, WireType.LengthDelimited).bytes(d.value);
    w.join();
  }
  return w.finish();
}

/** typeName is the message name of a type URL: what follows its last "/". */
function typeName(url: string): string {
  const i = url.lastIndexOf("/");
  return i >= 0 ? url.slice(i + 1) : url;
}

/**
 * decodeStatus reads the details of a google.rpc.Status body; whatever
 * does not parse is skipped, since the headers already carry the error.
 */
export function decodeStatus(b: Uint8Array): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  try {
    const r = new BinaryReader(b);
    while (r.pos < r.len) {
      const [num, wt] = r.tag();
      if (num === 3 && wt === WireType.LengthDelimited) {
        const any = r.bytes();
        const d = decodeAny(any);
        if (d !== undefined) {
          details.push(d);
        }
        continue;
      }
      r.skip(wt, num);
    }
  } catch {
    // Keep what parsed so far.
  }
  return details;
}

function decodeAny(b: Uint8Array): ErrorDetail | undefined {
  try {
    const r = new BinaryReader(b);
    let url = "";
    let value: Uint8Array = new Uint8Array(0);
    while (r.pos < r.len) {
      const [num, wt] = r.tag();
      if (num === 1 && wt === WireType.LengthDelimited) {
        url = r.string();
      } else if (num === 2 && wt === WireType.LengthDelimited) {
        value = r.bytes();
      } else {
        r.skip(wt, num);
      }
    }
    return { type: typeName(url), value };
  } catch {
    return undefined;
  }
}

/** encodeJsonStatus renders Connect's JSON error object; values are base64 without padding. */
export function encodeJsonStatus(code: number, message: string, details: readonly ErrorDetail[]): string {
  const o: { code: string; message?: string; details?: { type: string; value: string }[] } = { code: codeName(code) };
  if (message !== "") {
    o.message = message;
  }
  if (details.length > 0) {
    o.details = details.map((d) => ({ type: d.type, value: base64Encode(d.value, "std_raw") }));
  }
  return JSON.stringify(o);
}

/** decodeJsonStatus reads the details of Connect's JSON error object (padding optional). */
export function decodeJsonStatus(b: Uint8Array): ErrorDetail[] {
  let o: unknown;
  try {
    o = JSON.parse(textDecoder.decode(b));
  } catch {
    return [];
  }
  const details: ErrorDetail[] = [];
  const list = (o as { details?: unknown })?.details;
  if (!Array.isArray(list)) {
    return details;
  }
  for (const d of list) {
    const type = (d as { type?: unknown })?.type;
    const value = (d as { value?: unknown })?.value;
    if (typeof type !== "string" || type === "" || typeof value !== "string") {
      continue;
    }
    const raw = value.replace(/=+$/, "");
    if (!/^[A-Za-z0-9+/]*$/.test(raw) || raw.length % 4 === 1) {
      continue;
    }
    details.push({ type: typeName(type), value: base64Decode(raw) });
  }
  return details;
}

/**
 * decodeReplyError reads a reply (wire.md §5, "How a client reads a
 * reply"): undefined for a success, else the error with its code, message,
 * details and all the reply's headers.
 */
export function decodeReplyError(msg: Msg): NatsRpcError | undefined {
  const h = msg.headers;
  if (h === undefined) {
    return undefined;
  }
  const rpcCode = headerGet(h, headerCode);
  const svcCode = headerGet(h, headerServiceErrorCode);
  if (rpcCode === "" && svcCode === "") {
    return undefined;
  }
  let code = parseCode(rpcCode);
  if (code !== undefined && code !== 0) {
    // the precise code
  } else if (svcCode !== "") {
    code = codeFromServiceCode(svcCode);
  } else if (code === 0) {
    return undefined; // a lone "Nats-Rpc-Code: ok"
  } else {
    code = Code.Unknown;
  }
  let message = headerGet(h, headerServiceError);
  if (message === codeName(code)) {
    message = "";
  }
  let details: ErrorDetail[] = [];
  if (msg.data.length > 0) {
    details = parseContentType(headerGet(h, headerContentType)) === "json" ? decodeJsonStatus(msg.data) : decodeStatus(msg.data);
  }
  return wireError(code, message, details, h);
}
