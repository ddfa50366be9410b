// Unit tests of the wire encodings: the parts the conformance suite reaches
// only through the network, checked value by value.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { headers as natsHeaders } from "@nats-io/nats-core";
import type { Msg } from "@nats-io/nats-core";

import { Code, codeFromHttpStatus, codeFromServiceCode, codeName, httpStatus, parseCode } from "../src/code.js";
import { NatsRpcError } from "../src/error.js";
import { checkMetadata, headerBytes, isReservedHeader, utf8Length, validHeaderKey } from "../src/headers.js";
import { readFrame, readUvarint, uvarint } from "../src/stream.js";
import { timer } from "../src/timer.js";
import { VERSION } from "../src/version.js";
import { decodeReplyError, encodeError, parseContentType, parseTimeout, sanitizeMessage, timeoutMillis } from "../src/wire.js";
import { tsRoot } from "./harness.js";

test("codes: names, numbers and HTTP-like numbers as wire.md §5 lists them", () => {
  const table: [Code, string, number][] = [
    [Code.Canceled, "canceled", 499],
    [Code.Unknown, "unknown", 500],
    [Code.InvalidArgument, "invalid_argument", 400],
    [Code.DeadlineExceeded, "deadline_exceeded", 504],
    [Code.NotFound, "not_found", 404],
    [Code.AlreadyExists, "already_exists", 409],
    [Code.PermissionDenied, "permission_denied", 403],
    [Code.ResourceExhausted, "resource_exhausted", 429],
    [Code.FailedPrecondition, "failed_precondition", 400],
    [Code.Aborted, "aborted", 409],
    [Code.OutOfRange, "out_of_range", 400],
    [Code.Unimplemented, "unimplemented", 501],
    [Code.Internal, "internal", 500],
    [Code.Unavailable, "unavailable", 503],
    [Code.DataLoss, "data_loss", 500],
    [Code.Unauthenticated, "unauthenticated", 401],
  ];
  table.forEach(([code, name, http], i) => {
    assert.equal(code, i + 1);
    assert.equal(codeName(code), name);
    assert.equal(parseCode(name), code);
    assert.equal(httpStatus(code), http);
  });
  assert.equal(codeName(0), "ok");
  assert.equal(codeName(42), "code_42");
  assert.equal(parseCode("code_42"), 42);
  assert.equal(parseCode("code_042"), undefined);
  assert.equal(parseCode("code_4294967296"), undefined);
  assert.equal(parseCode("NOT_FOUND"), undefined);
  assert.equal(httpStatus(42), 500);
});

test("codes: Nats-Service-Error-Code mapped back", () => {
  assert.equal(codeFromHttpStatus(412), Code.FailedPrecondition);
  assert.equal(codeFromHttpStatus(413), Code.ResourceExhausted);
  assert.equal(codeFromHttpStatus(408), Code.DeadlineExceeded);
  assert.equal(codeFromHttpStatus(502), Code.Unavailable);
  assert.equal(codeFromHttpStatus(500), Code.Unknown);
  assert.equal(codeFromServiceCode(" 404 "), Code.NotFound);
  assert.equal(codeFromServiceCode("+404"), Code.NotFound);
  assert.equal(codeFromServiceCode("NOT_FOUND"), Code.NotFound);
  assert.equal(codeFromServiceCode("ok"), Code.Unknown);
  assert.equal(codeFromServiceCode("teapot"), Code.Unknown);
});

test("Nats-Rpc-Timeout: rounded up, never 0, ten digits at most", () => {
  assert.equal(timeoutMillis(0.2), 1);
  assert.equal(timeoutMillis(1000), 1000);
  assert.equal(timeoutMillis(1000.001), 1001);
  assert.equal(timeoutMillis(-5), 1);
  assert.equal(timeoutMillis(1e13), 9_999_999_999);
  assert.equal(parseTimeout("0"), 0);
  assert.equal(parseTimeout("9999999999"), 9_999_999_999);
  for (const bad of ["", "12345678901", "-1", "1.5", "1s", " 1", "１"]) {
    assert.equal(parseTimeout(bad), undefined, JSON.stringify(bad));
  }
});

test("Content-Type: case and parameters ignored", () => {
  assert.equal(parseContentType(""), "proto");
  assert.equal(parseContentType("application/x-protobuf"), "proto");
  assert.equal(parseContentType(" Application/JSON ; charset=utf-8"), "json");
  assert.equal(parseContentType("application/jsonx"), undefined);
  assert.equal(parseContentType("text/plain"), undefined);
});

test("error messages: CR/LF as spaces, trimmed as Go trims, cut at 4096 bytes on a character", () => {
  assert.equal(sanitizeMessage(" a\r\nb\rc\nd\t"), "a b c d");
  assert.equal(sanitizeMessage("\u0085x\u0085"), "x");
  assert.equal(sanitizeMessage("\ufeffx"), "\ufeffx");
  const long = "é".repeat(2047) + "€€";
  assert.equal(utf8Length(sanitizeMessage(long)), 4094);
  assert.equal(utf8Length(sanitizeMessage("a".repeat(5000))), 4096);
});

test("headers: reserved names in any case, ADR-4 keys, encoded size", () => {
  for (const k of ["Nats-Rpc-Timeout", "nats-rpc-x", "content-type", "Status", "DESCRIPTION", "Nats-Service-Error", "nats-service-error-code"]) {
    assert.ok(isReservedHeader(k), k);
  }
  assert.ok(!isReservedHeader("Nats-Msg-Id"));
  assert.ok(!isReservedHeader("traceparent"));
  for (const k of ["a b", "a:b", "a(b", "", "é"]) {
    assert.ok(!validHeaderKey(k), k);
  }
  assert.ok(validHeaderKey("X-Player_1.2"));
  const h = natsHeaders();
  h.set("Status", "503");
  assert.match(checkMetadata(h) ?? "", /reserved/);
  const ok = natsHeaders();
  ok.set("X-A", "b");
  ok.append("X-A", "cd");
  assert.equal(checkMetadata(ok), undefined);
  assert.equal(headerBytes(ok), new TextEncoder().encode(String(ok)).length); // MsgHdrs' toString is what nats.js sends
  assert.equal(headerBytes(natsHeaders()), 0);
});

function msg(h: Record<string, string>, data: Uint8Array = new Uint8Array(0)): Msg {
  const hh = natsHeaders();
  for (const [k, v] of Object.entries(h)) {
    hh.set(k, v);
  }
  return { subject: "x", sid: 1, data, headers: Object.keys(h).length > 0 ? hh : undefined } as unknown as Msg;
}

test("error responses: encoded and read back, details in both encodings", () => {
  const detail = { type: "natsrpctest.v1.Item", value: new Uint8Array([10, 3, 100, 45, 49]) };
  for (const codec of ["proto", "json"] as const) {
    const meta = natsHeaders();
    meta.set("Retry-After", "5");
    meta.set("Nats-Rpc-Forged", "x");
    const { headers, body } = encodeError(Code.FailedPrecondition, "locked\n", [detail], meta, codec);
    assert.equal(headers.get("Nats-Rpc-Code"), "failed_precondition");
    assert.equal(headers.get("Nats-Service-Error-Code"), "400");
    assert.equal(headers.get("Nats-Service-Error"), "locked");
    assert.equal(headers.get("Retry-After"), "5");
    assert.equal(headers.get("Nats-Rpc-Forged"), "");
    const e = decodeReplyError({ subject: "x", data: body, headers } as unknown as Msg);
    assert.ok(e instanceof NatsRpcError);
    assert.equal(e.code, Code.FailedPrecondition);
    assert.equal(e.rawMessage, "locked");
    assert.equal(e.message, "failed_precondition: locked");
    assert.deepEqual(e.details, [detail]);
    assert.ok(e.wire);
  }
  assert.equal(decodeReplyError(msg({})), undefined);
  assert.equal(decodeReplyError(msg({ "Nats-Rpc-Code": "ok" })), undefined);
  assert.equal(decodeReplyError(msg({ "X-A": "b" })), undefined);
  assert.equal(decodeReplyError(msg({ "Nats-Rpc-Code": "bogus" }))?.code, Code.Unknown);
});

test("compact frames: minimal varints only", () => {
  for (const v of [1, 127, 128, 300, 16383, 16384, 2 ** 35, Number.MAX_SAFE_INTEGER]) {
    const b = uvarint(v);
    assert.deepEqual(readUvarint(b), [v, b.length], String(v));
  }
  assert.equal(readUvarint(new Uint8Array([0x80, 0x00])), undefined);
  assert.equal(readUvarint(new Uint8Array([0x81, 0x00])), undefined);
  assert.equal(readUvarint(new Uint8Array([0x80])), undefined);
  assert.equal(readUvarint(new Uint8Array(11).fill(0xff)), undefined);
  assert.deepEqual(readUvarint(new Uint8Array([0x00])), [0, 1]);
  const f = readFrame(msg({}, new Uint8Array([0x02, 0x08, 0x01])));
  assert.equal(f.kind, "data");
  assert.equal(f.seq, 2);
  assert.deepEqual(f.body, new Uint8Array([0x08, 0x01]));
  assert.throws(() => readFrame(msg({}, new Uint8Array([0x00]))), /numbered 0/);
  assert.throws(() => readFrame(msg({ "Nats-Rpc-Frame": "open", "Nats-Rpc-Seq": "0", "Nats-Rpc-Heartbeat": "100", "Nats-Rpc-Control": "a.*" })), /literal/);
  assert.throws(() => readFrame(msg({ "Nats-Rpc-Frame": "credit", "Nats-Rpc-Seq": "0", "Nats-Rpc-Credit": "5" })), /want both/);
  assert.deepEqual(readFrame(msg({ "Nats-Rpc-Frame": "credit", "Nats-Rpc-Seq": "3", "Nats-Rpc-Credit": "5", "Nats-Rpc-Credit-Bytes": "9" })), { kind: "credit", seq: 3, credit: [5, 9] });
});

test("VERSION is package.json's version", () => {
  const pkg = JSON.parse(readFileSync(join(tsRoot, "package.json"), "utf8")) as { version: string };
  assert.equal(VERSION, pkg.version);
});

test("timer: a deadline beyond setTimeout's 24.8 days does not fire at once", async () => {
  let fired = 0;
  const cancel = timer(2 ** 31 + 5000, () => fired++);
  const soon = timer(20, () => fired++);
  await new Promise((r) => setTimeout(r, 60));
  cancel();
  soon();
  assert.equal(fired, 1, "only the 20 ms timer fired");
});
