// Randomized inputs for the decoders that read what peers send (frames,
// varints, error bodies, replies): whatever the bytes, they return or
// throw what they document, never anything else. A fixed seed keeps runs
// reproducible; the Go runtime's equivalents are go test -fuzz targets.
import assert from "node:assert/strict";
import { test } from "node:test";

import { headers as natsHeaders } from "@nats-io/nats-core";
import type { Msg } from "@nats-io/nats-core";

import { isNatsRpcError } from "../src/error.js";
import { readFrame, readUvarint, uvarint } from "../src/stream.js";
import { decodeJsonStatus, decodeReplyError, decodeStatus, parseContentType, parseTimeout, sanitizeMessage } from "../src/wire.js";

/** rng is a small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = rng(18);
const bytes = (max: number): Uint8Array => Uint8Array.from({ length: Math.floor(rand() * max) }, () => Math.floor(rand() * 256));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const text = (): string => pick(["", "0", "1", "18446744073709551615", "99999999999999999999", "-1", "open", "end", "credit", "a.b", "a b", "é", "\u0000", String(Math.floor(rand() * 1e6))]);

const iterations = 3000;

test("readUvarint: a value and a length, or undefined; values round-trip", () => {
  for (let i = 0; i < iterations; i++) {
    const b = bytes(12);
    const r = readUvarint(b);
    if (r !== undefined) {
      assert.ok(r[1] >= 1 && r[1] <= b.length && r[1] <= 10);
      if (r[0] <= Number.MAX_SAFE_INTEGER) {
        assert.deepEqual(uvarint(r[0]), b.subarray(0, r[1]), "minimal");
      }
    }
  }
});

test("readFrame: a frame or a string saying what is malformed", () => {
  const names = ["Nats-Rpc-Frame", "Nats-Rpc-Seq", "Nats-Rpc-Credit", "Nats-Rpc-Credit-Bytes", "Nats-Rpc-Control", "Nats-Rpc-Heartbeat", "X-A"];
  for (let i = 0; i < iterations; i++) {
    let h: ReturnType<typeof natsHeaders> | undefined;
    if (rand() < 0.7) {
      h = natsHeaders();
      for (let n = Math.floor(rand() * 5); n > 0; n--) {
        h.set(pick(names), text());
      }
    }
    const m = { subject: "x", data: bytes(16), headers: h } as unknown as Msg;
    try {
      const f = readFrame(m);
      assert.ok(["data", "open", "heartbeat", "credit", "end", "cancel"].includes(f.kind));
      assert.ok(Number.isFinite(f.seq) && f.seq >= 0);
      if (f.kind === "data") {
        assert.ok(f.seq >= 1);
      }
    } catch (e) {
      assert.equal(typeof e, "string", `readFrame threw ${String(e)}`);
    }
  }
});

test("error bodies and replies: decoded or skipped, never a throw", () => {
  for (let i = 0; i < iterations; i++) {
    const b = bytes(64);
    for (const d of [...decodeStatus(b), ...decodeJsonStatus(b)]) {
      assert.equal(typeof d.type, "string");
      assert.ok(d.value instanceof Uint8Array);
    }
    const h = natsHeaders();
    for (const k of ["Nats-Rpc-Code", "Nats-Service-Error-Code", "Nats-Service-Error", "Content-Type"]) {
      if (rand() < 0.5) {
        h.set(k, pick(["not_found", "code_7", "404", "NOT_FOUND", "ok", "application/json", "x", text()]));
      }
    }
    const e = decodeReplyError({ subject: "x", data: b, headers: h } as unknown as Msg);
    assert.ok(e === undefined || isNatsRpcError(e));
  }
  const json = ['{"details":[{"type":"a","value":"AAA"}]}', '{"details":[{"type":"a","value":"A"}]}', '{"details":"x"}', "null", "[]", '{"details":[null,1,{"type":1}]}'];
  for (const j of json) {
    decodeJsonStatus(new TextEncoder().encode(j));
  }
});

test("header values: parsed or refused", () => {
  for (let i = 0; i < iterations; i++) {
    const s = new TextDecoder().decode(bytes(14));
    const t = parseTimeout(s);
    assert.ok(t === undefined || (Number.isInteger(t) && t >= 0 && t <= 9_999_999_999));
    const c = parseContentType(s);
    assert.ok(c === undefined || c === "proto" || c === "json");
    const m = sanitizeMessage(s.repeat(400));
    assert.ok(!/[\r\n]/.test(m));
    assert.ok(new TextEncoder().encode(m).length <= 4096);
  }
});
