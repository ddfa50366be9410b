// The conformance suite for docs/wire.md: the language-neutral cases of
// testdata/conformance (see its README.md), run against the TypeScript
// runtime, as internal/runtimetest/conformance_test.go runs them against the Go runtime. A
// scripted peer on a raw nats.js connection plays the other side.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { createRegistry, equals, fromBinary, fromJson, toBinary, toJsonString } from "@bufbuild/protobuf";
import type { DescMessage, JsonValue, MessageInitShape } from "@bufbuild/protobuf";
import { base64Decode, base64Encode, BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { file_google_protobuf_empty } from "@bufbuild/protobuf/wkt";
import { createInbox, headers as natsHeaders, Match } from "@nats-io/nats-core";
import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/nats-core";

import { createClient } from "../src/client.js";
import { Code, codeName, parseCode } from "../src/code.js";
import { isNatsRpcError, NatsRpcError, type ErrorDetail } from "../src/error.js";
import { registerHandler, type HandlerContext, type NatsRpcService } from "../src/server.js";
import { uvarint } from "../src/stream.js";
import { DurableService, file_natsrpctest_v1_test, GetResponseSchema, TestService, WatchResponseSchema } from "./gen/natsrpctest/v1/test_pb.js";
import type { GetRequest, GetResponse } from "./gen/natsrpctest/v1/test_pb.js";
import { connectTest, readJson, sleep, uniquePrefix } from "./harness.js";

const registry = createRegistry(file_natsrpctest_v1_test, file_google_protobuf_empty);
const te = new TextEncoder();
const td = new TextDecoder();

function schema(typeName: string): DescMessage {
  const d = registry.getMessage(typeName);
  assert.ok(d !== undefined, `unknown message type ${typeName}`);
  return d;
}

function msgOf(typeName: string, json: JsonValue | undefined) {
  return fromJson(schema(typeName), json ?? {}, { registry });
}

interface Detail {
  type: string;
  value: JsonValue;
}

function detailOf(d: Detail): ErrorDetail {
  return { type: d.type, value: toBinary(schema(d.type), msgOf(d.type, d.value)) };
}

function checkDetails(got: readonly ErrorDetail[], want: Detail[]): void {
  assert.equal(got.length, want.length, `details: ${JSON.stringify(got.map((d) => d.type))}`);
  want.forEach((w, i) => {
    assert.equal(got[i]!.type, w.type, `detail ${i} type`);
    assert.ok(equals(schema(w.type), fromBinary(schema(w.type), got[i]!.value), msgOf(w.type, w.value)), `detail ${i} value`);
  });
}

function checkHeaders(what: string, h: MsgHdrs | undefined, want: Record<string, string> = {}, absent: string[] = [], present: string[] = []): void {
  for (const [k, v] of Object.entries(want)) {
    assert.equal(h?.get(k, Match.Exact) ?? "", v, `${what} header ${k}`);
  }
  for (const k of absent) {
    assert.deepEqual(h?.values(k, Match.Exact) ?? [], [], `${what} header ${k} must be absent`);
  }
  for (const k of present) {
    assert.notEqual(h?.get(k, Match.Exact) ?? "", "", `${what} header ${k} must be present`);
  }
}

const reserved = (k: string): boolean => {
  const l = k.toLowerCase();
  return l.startsWith("nats-rpc-") || ["content-type", "nats-service-error", "nats-service-error-code", "status", "description"].includes(l);
};

function publicOf(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of h?.keys() ?? []) {
    if (!reserved(k)) {
      out[k] = h!.get(k);
    }
  }
  return out;
}

interface Status {
  code: number;
  message: string;
  details: Detail[];
}

function encodeStatus(s: Status): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.Varint).uint32(s.code);
  w.tag(2, WireType.LengthDelimited).string(s.message);
  for (const d of s.details ?? []) {
    const raw = detailOf(d);
    w.tag(3, WireType.LengthDelimited).fork();
    w.tag(1, WireType.LengthDelimited).string(`type.googleapis.com/${raw.type}`);
    w.tag(2, WireType.LengthDelimited).bytes(raw.value);
    w.join();
  }
  return w.finish();
}

function decodeStatus(b: Uint8Array): { code: number; message: string; details: ErrorDetail[] } {
  const r = new BinaryReader(b);
  const out = { code: 0, message: "", details: [] as ErrorDetail[] };
  while (r.pos < r.len) {
    const [num, wt] = r.tag();
    if (num === 1) {
      out.code = r.uint32();
    } else if (num === 2) {
      out.message = r.string();
    } else if (num === 3) {
      const a = new BinaryReader(r.bytes());
      let type = "";
      let value: Uint8Array = new Uint8Array(0);
      while (a.pos < a.len) {
        const [n, w] = a.tag();
        if (n === 1) {
          type = a.string().replace(/^.*\//, "");
        } else if (n === 2) {
          value = a.bytes();
        } else {
          a.skip(w, n);
        }
      }
      out.details.push({ type, value });
    } else {
      r.skip(wt, num);
    }
  }
  return out;
}

interface ConnectError {
  code: string;
  message: string;
  details: Detail[];
  padding?: boolean;
}

function encodeConnectError(e: ConnectError): Uint8Array {
  return te.encode(JSON.stringify({
    code: e.code,
    message: e.message,
    details: e.details.map((d) => {
      const raw = detailOf(d);
      return { type: raw.type, value: base64Encode(raw.value, e.padding ? "std" : "std_raw") };
    }),
  }));
}

function checkConnectError(body: Uint8Array, want: ConnectError): void {
  const got = JSON.parse(td.decode(body)) as { code: string; message: string; details?: { type: string; value: string }[] };
  assert.equal(got.code, want.code);
  assert.equal(got.message, want.message);
  checkDetails((got.details ?? []).map((d) => ({ type: d.type, value: base64Decode(d.value) })), want.details);
}

/** Body is a case's message body: protobuf of the protojson given, text as it is, or raw bytes. */
interface Body {
  message?: JsonValue;
  json?: string;
  base64?: string;
}

function bodyBytes(b: Body, typeName: string, asJson: boolean): Uint8Array {
  if (b.json !== undefined) {
    return te.encode(b.json);
  }
  if (b.base64 !== undefined) {
    return base64Decode(b.base64);
  }
  if (b.message !== undefined) {
    const m = msgOf(typeName, b.message);
    return asJson ? te.encode(toJsonString(schema(typeName), m, { registry })) : toBinary(schema(typeName), m);
  }
  return new Uint8Array(0);
}

function headersOf(r: Record<string, string> | undefined): MsgHdrs | undefined {
  if (r === undefined || Object.keys(r).length === 0) {
    return undefined;
  }
  const h = natsHeaders();
  for (const [k, v] of Object.entries(r)) {
    h.set(k, v);
  }
  return h;
}

const isJsonCt = (h: Record<string, string> | undefined): boolean =>
  Object.entries(h ?? {}).some(([k, v]) => k.toLowerCase() === "content-type" && v.toLowerCase().includes("json"));

let nc: NatsConnection;
before(async () => {
  nc = await connectTest();
});
after(async () => {
  await nc.close();
});

// ---- the service side of unary calls ----

interface Behaviour {
  respond?: JsonValue;
  respondSummaryBytes?: number;
  echoOwner?: boolean;
  reportDeadline?: boolean;
  waitForDeadline?: boolean;
  responseHeaders?: Record<string, string>;
  echoHeaders?: string[];
  throw?: string;
  panic?: string;
  nothing?: boolean;
  error?: {
    code: string | number;
    message?: string;
    messageRepeat?: { text: string; count: number; suffix: string };
    details?: Detail[];
    metadata?: Record<string, string>;
  };
}

interface ServiceCase {
  name: string;
  wire: string;
  requires?: string[];
  handler?: Behaviour;
  request: Body & { headers?: Record<string, string> };
  expect: {
    noReply?: boolean;
    headers?: Record<string, string>;
    absentHeaders?: string[];
    headerBytes?: Record<string, number>;
    errorContains?: string;
    emptyBody?: boolean;
    message?: JsonValue;
    bodyBytesBelow?: number;
    levelBetween?: [number, number];
    status?: Status;
    connectError?: ConnectError;
  };
}

/** conformanceImpl serves TestService.Get as the cases' behaviours say. */
function conformanceImpl(behaviours: Map<string, Behaviour>) {
  return async (req: GetRequest, ctx: HandlerContext): Promise<MessageInitShape<typeof GetResponseSchema>> => {
    const b = behaviours.get(req.id);
    if (b === undefined) {
      return { item: { id: req.id, title: "unscripted" } };
    }
    for (const [k, v] of Object.entries(b.responseHeaders ?? {})) {
      ctx.responseHeader.set(k, v);
    }
    for (const k of b.echoHeaders ?? []) {
      ctx.responseHeader.set(`Echo-${k}`, ctx.requestHeader.get(k));
    }
    if (b.waitForDeadline) {
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
      throw ctx.signal.reason;
    }
    if (b.panic !== undefined) {
      throw b.panic; // not an Error: JavaScript's panic
    }
    if (b.throw !== undefined) {
      throw new Error(b.throw);
    }
    if (b.nothing) {
      return undefined as unknown as MessageInitShape<typeof GetResponseSchema>;
    }
    if (b.error !== undefined) {
      const e = b.error;
      const code = typeof e.code === "number" ? e.code : parseCode(e.code);
      assert.ok(code !== undefined, `bad code ${String(e.code)}`);
      const r = e.messageRepeat;
      const msg = r !== undefined ? r.text.repeat(r.count) + r.suffix : (e.message ?? "");
      throw new NatsRpcError(msg, code, { details: (e.details ?? []).map(detailOf), metadata: e.metadata });
    }
    const res = msgOf("natsrpctest.v1.GetResponse", b.respond) as GetResponse;
    if (b.respondSummaryBytes !== undefined) {
      res.item = { $typeName: "natsrpctest.v1.Item", id: "", title: "", summary: "x".repeat(b.respondSummaryBytes), status: 0, level: 0 };
    } else if (b.echoOwner) {
      res.item = { $typeName: "natsrpctest.v1.Item", id: req.id, title: req.ownerId, summary: "", status: 0, level: 0 };
    } else if (b.reportDeadline) {
      res.item = { $typeName: "natsrpctest.v1.Item", id: "", title: "", summary: "", status: 0, level: Math.trunc(ctx.deadline - Date.now()) };
    }
    return res;
  };
}

describe("conformance: unary service (unary_service.json)", () => {
  const doc = readJson<{ cases: ServiceCase[] }>("testdata/conformance/unary_service.json");
  const prefix = uniquePrefix("svc");
  let svc: NatsRpcService;
  before(async () => {
    const behaviours = new Map<string, Behaviour>();
    for (const c of doc.cases) {
      if (c.handler !== undefined) {
        behaviours.set(c.name, c.handler);
      }
    }
    svc = await registerHandler(TestService, { get: conformanceImpl(behaviours) }, nc, { subjectPrefix: prefix });
  });
  after(async () => {
    await svc.stop();
  });
  assert.ok(doc.cases.length >= 50);
  for (const c of doc.cases) {
    // The TypeScript runtime implements no compression (wire.md §15): its
    // clients never announce Nats-Rpc-Accept-Encoding and its service
    // never compresses, so the cases that need a compressing service are
    // skipped, by name, with the reason.
    const skip = c.requires?.includes("compression") ? "the TypeScript runtime does not compress responses (wire.md §15: compression is optional; it never announces Nats-Rpc-Accept-Encoding)" : false;
    test(c.name, { skip }, async () => {
      const subject = `${prefix}.natsrpctest.v1.TestService.Get`;
      const body = bodyBytes(c.request, "natsrpctest.v1.GetRequest", isJsonCt(c.request.headers));
      const h = headersOf(c.request.headers);
      const e = c.expect;
      if (e.noReply) {
        const inbox = createInbox();
        const sub = nc.subscribe(inbox, { max: 1 });
        nc.publish(subject, body, h === undefined ? { reply: inbox } : { reply: inbox, headers: h });
        const got = await Promise.race([(async () => { for await (const m of sub) return m; return undefined; })(), sleep(300).then(() => undefined)]);
        sub.unsubscribe();
        assert.equal(got, undefined, "got a reply; want none");
        return;
      }
      const resp = await nc.request(subject, body, h === undefined ? { timeout: 3000 } : { timeout: 3000, headers: h });
      checkHeaders("reply", resp.headers, e.headers, e.absentHeaders);
      for (const [k, n] of Object.entries(e.headerBytes ?? {})) {
        assert.equal(te.encode(resp.headers?.get(k) ?? "").length, n, `header ${k} bytes`);
      }
      if (e.errorContains !== undefined) {
        assert.ok((resp.headers?.get("Nats-Service-Error") ?? "").includes(e.errorContains), `Nats-Service-Error ${resp.headers?.get("Nats-Service-Error")} should mention ${e.errorContains}`);
      }
      if (e.emptyBody) {
        assert.equal(resp.data.length, 0, `body ${td.decode(resp.data)}`);
      }
      if (e.bodyBytesBelow !== undefined) {
        assert.ok(resp.data.length < e.bodyBytesBelow, `body is ${resp.data.length} bytes; want fewer than ${e.bodyBytesBelow}`);
      }
      if (e.message !== undefined || e.levelBetween !== undefined) {
        const json = (resp.headers?.get("Content-Type") ?? "").startsWith("application/json");
        const got = json ? fromJson(GetResponseSchema, JSON.parse(td.decode(resp.data)) as JsonValue) : fromBinary(GetResponseSchema, resp.data);
        if (e.message !== undefined) {
          assert.ok(equals(GetResponseSchema, got, msgOf("natsrpctest.v1.GetResponse", e.message) as GetResponse), `reply ${toJsonString(GetResponseSchema, got)}`);
        }
        if (e.levelBetween !== undefined) {
          const l = got.item?.level ?? 0;
          assert.ok(l >= e.levelBetween[0] && l <= e.levelBetween[1], `handler saw ${l} ms left; want ${e.levelBetween.join(" to ")}`);
        }
      }
      if (e.status !== undefined) {
        const s = decodeStatus(resp.data);
        assert.equal(s.code, e.status.code);
        assert.equal(s.message, e.status.message);
        checkDetails(s.details, e.status.details);
      }
      if (e.connectError !== undefined) {
        checkConnectError(resp.data, e.connectError);
      }
    });
  }
});

// ---- the client side of unary calls and events ----

interface RequestExpect {
  subject?: string;
  noReply?: boolean;
  headers?: Record<string, string>;
  absentHeaders?: string[];
  presentHeaders?: string[];
  timeoutBetween?: [number, number];
  replySubject?: boolean;
  message?: JsonValue;
  json?: JsonValue;
}

function checkRequest(e: RequestExpect | undefined, m: Msg, typeName: string): void {
  if (e === undefined) {
    return;
  }
  if (e.subject !== undefined) {
    assert.equal(m.subject, e.subject);
  }
  if (e.noReply) {
    assert.ok(m.reply === undefined || m.reply === "", `reply subject ${m.reply}; want none`);
  }
  if (e.replySubject) {
    assert.ok(m.reply !== undefined && m.reply !== "", "want a reply subject");
  }
  checkHeaders("request", m.headers, e.headers, e.absentHeaders, e.presentHeaders);
  if (e.timeoutBetween !== undefined) {
    const v = m.headers?.get("Nats-Rpc-Timeout") ?? "";
    const n = Number(v);
    assert.ok(/^[0-9]+$/.test(v) && n >= e.timeoutBetween[0] && n <= e.timeoutBetween[1], `Nats-Rpc-Timeout ${v}; want ${e.timeoutBetween.join(" to ")}`);
  }
  if (e.message !== undefined) {
    assert.ok(equals(schema(typeName), fromBinary(schema(typeName), m.data), msgOf(typeName, e.message)), "request message");
  }
  if (e.json !== undefined) {
    const got = fromJson(schema(typeName), JSON.parse(td.decode(m.data)) as JsonValue, { registry });
    assert.ok(equals(schema(typeName), got, msgOf(typeName, e.json)), `request JSON ${td.decode(m.data)}`);
  }
}

interface Reply extends Body {
  headers?: Record<string, string>;
  status?: Status;
  connectError?: ConnectError;
}

function replyBody(r: Reply, typeName: string): Uint8Array {
  if (r.status !== undefined) {
    return encodeStatus(r.status);
  }
  if (r.connectError !== undefined) {
    return encodeConnectError(r.connectError);
  }
  return bodyBytes(r, typeName, isJsonCt(r.headers));
}

interface CallExpect {
  code: string;
  errorMessage?: string;
  details?: Detail[];
  metadata?: Record<string, string>;
  wire?: boolean;
  responseHeaders?: Record<string, string>;
  message?: JsonValue;
}

function checkOutcome(e: CallExpect, err: unknown): void {
  if (err === undefined) {
    assert.equal("ok", e.code, "the call succeeded");
    return;
  }
  assert.ok(isNatsRpcError(err), `error ${String(err)} is not a NatsRpcError`);
  assert.equal(codeName(err.code), e.code, err.message);
  if (e.errorMessage !== undefined) {
    assert.equal(err.rawMessage, e.errorMessage);
  }
  if (e.details !== undefined) {
    checkDetails(err.details, e.details);
  }
  for (const [k, v] of Object.entries(e.metadata ?? {})) {
    assert.equal(err.metadata.get(k), v, `error metadata ${k}`);
  }
  if (e.wire !== undefined) {
    assert.equal(err.wire, e.wire, "wire");
  }
}

/** responder answers every request on subject and records them. */
function responder(subject: string, reply: ((m: Msg) => { headers?: MsgHdrs; body: Uint8Array }) | undefined): Msg[] {
  const got: Msg[] = [];
  nc.subscribe(subject, {
    callback: (_err, m) => {
      got.push(m);
      if (reply !== undefined && m.reply) {
        const r = reply(m);
        nc.publish(m.reply, r.body, r.headers === undefined ? undefined : { headers: r.headers });
      }
    },
  });
  return got;
}

async function firstRequest(got: Msg[]): Promise<Msg> {
  for (let i = 0; i < 300 && got.length === 0; i++) {
    await sleep(10);
  }
  assert.ok(got.length > 0, "the client sent nothing");
  return got[0]!;
}

interface UnaryClientCase {
  name: string;
  call: { request: JsonValue; json?: boolean; timeoutMs?: number; headers?: Record<string, string>; padOwnerIdBytes?: number };
  reply?: Reply;
  noResponder?: boolean;
  replyNever?: boolean;
  expectNoRequest?: boolean;
  expectRequest?: RequestExpect;
  expect: CallExpect;
}

describe("conformance: unary client (unary_client.json)", () => {
  const doc = readJson<{ cases: UnaryClientCase[] }>("testdata/conformance/unary_client.json");
  assert.ok(doc.cases.length >= 40);
  for (const c of doc.cases) {
    test(c.name, async () => {
      const prefix = uniquePrefix("ucl");
      let got: Msg[] = [];
      if (!c.noResponder) {
        const r = c.reply;
        got = responder(`${prefix}.natsrpctest.v1.TestService.Get`, r === undefined || c.replyNever ? undefined : () => ({ headers: headersOf(r.headers), body: replyBody(r, "natsrpctest.v1.GetResponse") }));
        await nc.flush();
      }
      const client = createClient(TestService, nc, { subjectPrefix: prefix, json: c.call.json ?? false });
      const req = msgOf("natsrpctest.v1.GetRequest", c.call.request) as GetRequest;
      if (c.call.padOwnerIdBytes !== undefined) {
        req.ownerId = "x".repeat(c.call.padOwnerIdBytes);
      }
      let responseHeaders: MsgHdrs | undefined;
      let err: unknown;
      let res: GetResponse | undefined;
      try {
        res = await client.get(req, {
          ...(c.call.timeoutMs !== undefined ? { timeoutMs: c.call.timeoutMs } : {}),
          ...(c.call.headers !== undefined ? { headers: c.call.headers } : {}),
          onHeader: (h) => {
            responseHeaders = h;
          },
        });
      } catch (e) {
        err = e;
      }
      checkOutcome(c.expect, err);
      if (err === undefined && c.expect.message !== undefined) {
        assert.ok(equals(GetResponseSchema, res!, msgOf("natsrpctest.v1.GetResponse", c.expect.message) as GetResponse), "response");
      }
      for (const [k, v] of Object.entries(c.expect.responseHeaders ?? {})) {
        assert.equal(responseHeaders?.get(k), v, `response header ${k}`);
      }
      if (c.expectNoRequest) {
        await sleep(100);
        assert.equal(got.length, 0, "the client sent a request; want nothing sent");
      } else if (c.expectRequest !== undefined) {
        checkRequest(c.expectRequest, await firstRequest(got), "natsrpctest.v1.GetRequest");
      }
    });
  }
});

interface EventCase {
  name: string;
  call: { method: string; request: JsonValue; json?: boolean; idempotencyKey?: string; headers?: Record<string, string>; subjectPrefix?: string };
  reply?: Reply;
  noResponder?: boolean;
  expectNoRequest?: boolean;
  expectRequest?: RequestExpect;
  expect: CallExpect;
}

describe("conformance: events (event_client.json)", () => {
  const doc = readJson<{ cases: EventCase[] }>("testdata/conformance/event_client.json");
  for (const c of doc.cases) {
    test(c.name, async () => {
      // Each case its own prefix, so that they never see each other's
      // events; a case with a prefix of its own uses that.
      const prefix = c.call.subjectPrefix ?? uniquePrefix("ev");
      const [svc, method] = c.call.method.split(".") as [string, string];
      const subject = `${prefix}.natsrpctest.v1.${c.call.method}`;
      let got: Msg[] = [];
      if (!c.noResponder) {
        const r = c.reply;
        got = responder(subject, r === undefined ? undefined : () => ({ headers: headersOf(r.headers), body: replyBody(r, "google.protobuf.Empty") }));
        await nc.flush();
      }
      const typeName = svc === "TestService" ? "natsrpctest.v1.NotifyRequest" : "natsrpctest.v1.RecordRequest";
      const opts = {
        ...(c.call.idempotencyKey !== undefined ? { idempotencyKey: c.call.idempotencyKey } : {}),
        ...(c.call.headers !== undefined ? { headers: c.call.headers } : {}),
        timeoutMs: 3000,
      };
      let err: unknown;
      try {
        if (svc === "TestService") {
          const client = createClient(TestService, nc, { subjectPrefix: prefix, json: c.call.json ?? false });
          assert.equal(method, "Notify");
          await client.notify(msgOf(typeName, c.call.request) as never, opts);
        } else {
          const client = createClient(DurableService, nc, { subjectPrefix: prefix, json: c.call.json ?? false });
          assert.equal(method, "Record");
          await client.record(msgOf(typeName, c.call.request) as never, opts);
        }
      } catch (e) {
        err = e;
      }
      if (c.call.subjectPrefix === undefined && c.expectRequest?.headers?.["Nats-Expected-Stream"] !== undefined) {
        // The stream name includes the runtime prefix: this runner adds a
        // prefix of its own to every case, so the expected name gains it.
        c.expectRequest.headers["Nats-Expected-Stream"] = `${prefix.replace(/[^A-Za-z0-9_-]/g, "_")}_${c.expectRequest.headers["Nats-Expected-Stream"]}`;
      }
      checkOutcome(c.expect, err);
      if (c.expectNoRequest) {
        await sleep(100);
        assert.equal(got.length, 0, "the client sent something; want nothing sent");
      } else if (c.expectRequest !== undefined) {
        checkRequest(c.expectRequest, await firstRequest(got), typeName);
      }
    });
  }
});

// ---- the client side of server streams ----

interface Step {
  send?: "open" | "data" | "heartbeat" | "credit" | "end" | "cancel" | "raw";
  seq?: number;
  headers?: Record<string, string>;
  message?: JsonValue;
  base64?: string;
  control?: string;
  status?: Status;
  await?: string;
  creditAtLeast?: number;
  sleepMs?: number;
}

interface StreamCase {
  name: string;
  call: {
    request: JsonValue;
    json?: boolean;
    stream?: { window?: number; windowBytes?: number; heartbeatMs?: number; livenessMs?: number };
    timeoutMs?: number;
    consume?: number;
    startDelayMs?: number;
    cancelAfterMs?: number;
  };
  noResponder?: boolean;
  script: Step[];
  expectHandshake?: RequestExpect;
  expect: {
    messages: JsonValue[];
    code: string;
    errorMessage?: string;
    details?: Detail[];
    responseHeaders?: Record<string, string>;
    trailer?: Record<string, string>;
    clientSends?: string[];
  };
}

describe("conformance: server-stream client (stream_client.json)", () => {
  const doc = readJson<{ cases: StreamCase[] }>("testdata/conformance/stream_client.json");
  for (const c of doc.cases) {
    test(c.name, async () => {
      const prefix = uniquePrefix("st");
      const json = c.call.json ?? false;
      const encode = (m: JsonValue | undefined): Uint8Array => {
        const msg = msgOf("natsrpctest.v1.WatchResponse", m);
        return json ? te.encode(toJsonString(WatchResponseSchema, msg as never)) : toBinary(WatchResponseSchema, msg as never);
      };
      const sent: Msg[] = [];
      const waiters: (() => void)[] = [];
      let handshake: Msg | undefined;
      let scriptDone: Promise<void> = Promise.resolve();
      const problems: string[] = [];
      if (!c.noResponder) {
        const control = createInbox();
        nc.subscribe(control, {
          callback: (_e, m) => {
            sent.push(m);
            waiters.splice(0).forEach((w) => w());
          },
        });
        const awaitFrame = async (kind: string, credit: number | undefined): Promise<boolean> => {
          const deadline = Date.now() + 3000;
          let seen = 0;
          while (Date.now() < deadline) {
            for (; seen < sent.length; seen++) {
              const f = sent[seen]!;
              if (f.headers?.get("Nats-Rpc-Frame") === kind && (credit === undefined || Number(f.headers.get("Nats-Rpc-Credit")) >= credit)) {
                return true;
              }
            }
            await Promise.race([new Promise<void>((r) => waiters.push(r)), sleep(50)]);
          }
          return false;
        };
        let resolveDone!: () => void;
        scriptDone = new Promise((r) => {
          resolveDone = r;
        });
        nc.subscribe(`${prefix}.natsrpctest.v1.TestService.Watch`, {
          callback: (_e, hs) => {
            handshake = hs;
            void (async () => {
              try {
                for (const step of c.script) {
                  const h = natsHeaders();
                  for (const [k, v] of Object.entries(step.headers ?? {})) {
                    h.set(k, v);
                  }
                  let body: Uint8Array = new Uint8Array(0);
                  let withHeaders = true;
                  switch (step.send) {
                    case undefined:
                      break;
                    case "open":
                      h.set("Nats-Rpc-Frame", "open");
                      h.set("Nats-Rpc-Seq", "0");
                      h.set("Nats-Rpc-Control", step.control ?? control);
                      break;
                    case "data":
                      if (step.headers === undefined || Object.keys(step.headers).length === 0) {
                        withHeaders = false;
                        const payload = encode(step.message);
                        const v = uvarint(step.seq!);
                        body = new Uint8Array(v.length + payload.length);
                        body.set(v);
                        body.set(payload, v.length);
                      } else {
                        h.set("Nats-Rpc-Seq", String(step.seq));
                        body = encode(step.message);
                      }
                      break;
                    case "heartbeat":
                    case "credit":
                    case "end":
                    case "cancel":
                      h.set("Nats-Rpc-Frame", step.send);
                      h.set("Nats-Rpc-Seq", String(step.seq ?? 0));
                      if (step.status !== undefined) {
                        body = encodeStatus(step.status);
                      }
                      break;
                    case "raw":
                      withHeaders = step.headers !== undefined && Object.keys(step.headers).length > 0;
                      body = step.base64 !== undefined ? base64Decode(step.base64) : step.message !== undefined ? encode(step.message) : body;
                      break;
                  }
                  if (step.send !== undefined) {
                    nc.publish(hs.reply!, body, withHeaders ? { headers: h } : undefined);
                  }
                  if (step.sleepMs !== undefined) {
                    await sleep(step.sleepMs);
                  }
                  if (step.await !== undefined && !(await awaitFrame(step.await, step.creditAtLeast))) {
                    problems.push(`the client sent no ${step.await} frame (credit at least ${step.creditAtLeast ?? 0}) within 3s`);
                    return;
                  }
                }
              } finally {
                resolveDone();
              }
            })();
          },
        });
        await nc.flush();
      }
      const s = c.call.stream ?? {};
      const client = createClient(TestService, nc, { subjectPrefix: prefix, json, stream: s });
      const ac = new AbortController();
      if (c.call.cancelAfterMs !== undefined) {
        setTimeout(() => ac.abort(), c.call.cancelAfterMs);
      }
      const got: JsonValue[] = [];
      let err: unknown;
      const stream = client.watch(msgOf("natsrpctest.v1.WatchRequest", c.call.request) as never, {
        signal: ac.signal,
        ...(c.call.timeoutMs !== undefined ? { timeoutMs: c.call.timeoutMs } : {}),
      });
      if (c.call.startDelayMs !== undefined) {
        await sleep(c.call.startDelayMs);
      }
      try {
        for await (const m of stream) {
          got.push(toJsonString(WatchResponseSchema, m) as unknown as JsonValue);
          if (c.call.consume !== undefined && got.length === c.call.consume) {
            err = new NatsRpcError("closed by the runner", Code.Canceled);
            break;
          }
        }
      } catch (e) {
        err = e;
      }
      await Promise.race([scriptDone, sleep(5000).then(() => problems.push("the script did not finish"))]);
      await sleep(50);
      assert.deepEqual(problems, []);
      const e = c.expect;
      if (e.code === "ok") {
        assert.equal(err, undefined, `stream failed: ${String(err)}`);
      } else {
        assert.ok(isNatsRpcError(err), `stream ended with ${String(err)}; want ${e.code}`);
        assert.equal(codeName(err.code), e.code, err.message);
        if (e.errorMessage !== undefined) {
          assert.equal(err.rawMessage, e.errorMessage);
        }
        if (e.details !== undefined) {
          checkDetails(err.details, e.details);
        }
      }
      assert.deepEqual(got.map((g) => JSON.parse(g as string) as JsonValue), e.messages.map((m) => JSON.parse(toJsonString(WatchResponseSchema, msgOf("natsrpctest.v1.WatchResponse", m) as never)) as JsonValue));
      if (e.responseHeaders !== undefined) {
        assert.deepEqual(publicOf(stream.responseHeader), e.responseHeaders, "response headers");
      }
      if (e.trailer !== undefined) {
        assert.deepEqual(publicOf(stream.responseTrailer), e.trailer, "trailer");
      }
      if (e.clientSends !== undefined) {
        const kinds = new Set<string>();
        for (const f of sent) {
          const k = f.headers?.get("Nats-Rpc-Frame") ?? "";
          if (k === "cancel") {
            assert.equal(f.headers?.get("Nats-Rpc-Seq"), "0", "a cancel frame is numbered 0 (the client sent no data)");
          }
          if (k !== "heartbeat") {
            kinds.add(k);
          }
        }
        assert.deepEqual([...kinds].sort(), [...e.clientSends].sort(), "the client's frames, heartbeats aside");
      }
      if (c.expectHandshake !== undefined) {
        assert.ok(handshake !== undefined, "no handshake arrived");
        checkRequest(c.expectHandshake, handshake, "natsrpctest.v1.WatchRequest");
      }
    });
  }
});
