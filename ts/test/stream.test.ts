// Server streams and events against the Go services of ts/testserver:
// credit keeps a slow reader's memory bounded (and holds the Go handler
// back), closing a stream stops the Go handler, plain and durable events
// reach Go handlers.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { fromJson } from "@bufbuild/protobuf";
import type { JsonValue } from "@bufbuild/protobuf";
import type { Msg, NatsConnection } from "@nats-io/nats-core";

import { Code, createClient, isNatsRpcError } from "../src/index.js";
import type { MicroStats } from "../src/index.js";
import { AIIntegrationService } from "../src/gen/gaming/ai_integration/v1/ai_integration_pb.js";
import { EventBusService, PaymentCompletedRequestSchema, QuestCompletedRequestSchema } from "../src/gen/gaming/event_bus/v1/event_bus_pb.js";
import { connectTest, sleep } from "./harness.js";

let nc: NatsConnection;
before(async () => {
  nc = await connectTest();
});
after(async () => {
  await nc.close();
});

/** streamStats returns the Go AIIntegrationService's StreamGenerate stats. */
async function streamStats(): Promise<{ num_requests: number; last_error: string; data: { credit_waits?: number; stream_messages_sent?: number } }> {
  const m = await nc.request("$SRV.STATS.gaming_ai_integration_v1_AIIntegrationService", new Uint8Array(0), { timeout: 2000 });
  const s = JSON.parse(new TextDecoder().decode(m.data)) as MicroStats & { endpoints: { name: string; data: { credit_waits?: number } }[] };
  const ep = s.endpoints.find((e) => e.name === "StreamGenerate");
  assert.ok(ep !== undefined);
  return ep as never;
}

test("a slow reader holds the Go handler back: never more than the window buffered", async () => {
  const client = createClient(AIIntegrationService, nc, { stream: { window: 16 } });
  const before = await streamStats();
  const n = 300;
  const stream = client.streamGenerate({ sampling: { maxTokens: n } });
  let maxBuffered = 0;
  let i = 0;
  let usage = 0;
  for await (const m of stream) {
    maxBuffered = Math.max(maxBuffered, stream.buffered);
    if (m.event.case === "delta") {
      i++;
      assert.equal(m.sequence, i);
      assert.equal(m.event.value.text, `tok-${i}`);
    } else if (m.event.case === "usage") {
      usage = m.event.value.completionTokens;
    }
    if (i % 10 === 0) {
      await sleep(5); // a reader slower than the handler
    }
  }
  assert.equal(i, n);
  assert.equal(usage, n);
  assert.ok(maxBuffered <= 16, `buffered ${maxBuffered} messages with a window of 16`);
  assert.ok(maxBuffered >= 8, `buffered at most ${maxBuffered}: the reader was never behind, the test proves nothing`);
  const after = await streamStats();
  assert.equal(after.num_requests, before.num_requests + 1);
  assert.ok((after.data.credit_waits ?? 0) > (before.data.credit_waits ?? 0), "the Go handler waited for credit");
});

test("a fast reader gets every token of a long stream, in order", async () => {
  const client = createClient(AIIntegrationService, nc);
  let count = 0;
  for await (const m of client.streamGenerate({ sampling: { maxTokens: 5000 } })) {
    count++;
    assert.equal(m.sequence, count);
  }
  assert.equal(count, 5001);
});

test("leaving the loop early cancels the Go handler", async () => {
  const client = createClient(AIIntegrationService, nc, { stream: { window: 4 } });
  const before = await streamStats();
  let got = 0;
  for await (const _ of client.streamGenerate({ sampling: { maxTokens: 100_000 } })) {
    if (++got === 3) {
      break;
    }
  }
  // The handler was blocked on credit; the cancel frame ends it.
  let after = await streamStats();
  for (let i = 0; i < 100 && after.num_requests === before.num_requests; i++) {
    await sleep(20);
    after = await streamStats();
  }
  assert.equal(after.num_requests, before.num_requests + 1, "the Go handler ended");
  assert.match(after.last_error, /^canceled/);
});

test("a stream's timeout ends it with deadline_exceeded; a signal with canceled", async () => {
  const client = createClient(AIIntegrationService, nc, { stream: { window: 2 } });
  const read = async (opts: { timeoutMs?: number; signal?: AbortSignal }): Promise<unknown> => {
    try {
      for await (const _ of client.streamGenerate({ sampling: { maxTokens: 100_000 } }, opts)) {
        await sleep(50);
      }
    } catch (e) {
      return e;
    }
    return undefined;
  };
  const d = await read({ timeoutMs: 300 });
  assert.ok(isNatsRpcError(d) && d.code === Code.DeadlineExceeded, String(d));
  const c = await read({ signal: AbortSignal.timeout(300) });
  assert.ok(isNatsRpcError(c) && c.code === Code.DeadlineExceeded, String(c));
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 300);
  const a = await read({ signal: ac.signal });
  assert.ok(isNatsRpcError(a) && a.code === Code.Canceled, String(a));
});

/** nextEvent waits for the Go handler to republish an event of method. */
function events(method: string): { next(timeoutMs?: number): Promise<Msg | undefined>; stop(): void } {
  const queue: Msg[] = [];
  const sub = nc.subscribe(`tstest.events.${method}`, {
    callback: (_e, m) => {
      queue.push(m);
    },
  });
  return {
    async next(timeoutMs = 3000) {
      for (let waited = 0; queue.length === 0 && waited < timeoutMs; waited += 10) {
        await sleep(10);
      }
      return queue.shift();
    },
    stop: () => sub.unsubscribe(),
  };
}

test("a plain event reaches the Go handler with its metadata", async () => {
  const got = events("QuestCompleted");
  await nc.flush();
  const client = createClient(EventBusService, nc);
  const res = await client.questCompleted(
    { eventId: "e-1", playerId: "p-1", questId: "q-1", experienceGranted: 250n, currencyGranted: { gold: 5n } },
    { headers: { "X-Player": "p-1" }, idempotencyKey: "e-1" },
  );
  assert.equal(res.$typeName, "google.protobuf.Empty");
  const m = await got.next();
  got.stop();
  assert.ok(m !== undefined, "the Go handler got no event");
  const ev = fromJson(QuestCompletedRequestSchema, JSON.parse(new TextDecoder().decode(m.data)) as JsonValue);
  assert.equal(ev.eventId, "e-1");
  assert.equal(ev.experienceGranted, 250n);
  assert.equal(ev.currencyGranted["gold"], 5n);
  assert.equal(m.headers?.get("X-Player"), "p-1");
  assert.equal(m.headers?.get("Nats-Msg-Id"), "e-1");
});

test("a durable event is stored by JetStream once per idempotency key and reaches the Go handler once", async () => {
  const got = events("PaymentCompleted");
  await nc.flush();
  const client = createClient(EventBusService, nc, { json: true });
  const key = `pay-${process.pid}-${Date.now()}`;
  for (let i = 0; i < 2; i++) {
    await client.paymentCompleted({ eventId: key, paymentId: "pm-1", amountMinor: 1299n, currencyCode: "EUR" }, { idempotencyKey: key });
  }
  const m = await got.next(5000);
  assert.ok(m !== undefined, "the Go handler got no durable event");
  const ev = fromJson(PaymentCompletedRequestSchema, JSON.parse(new TextDecoder().decode(m.data)) as JsonValue);
  assert.equal(ev.eventId, key);
  assert.equal(ev.amountMinor, 1299n);
  assert.equal(m.headers?.get("Nats-Msg-Id"), key);
  assert.equal(m.headers?.get("Content-Type"), "application/json");
  assert.equal(await got.next(1000), undefined, "the duplicate was delivered");
  got.stop();
});

test("a durable event without a stream fails with unavailable", async () => {
  const client = createClient(EventBusService, nc, { subjectPrefix: "nostream" });
  try {
    await client.paymentCompleted({ eventId: "x" });
    assert.fail("published without a stream");
  } catch (e) {
    assert.ok(isNatsRpcError(e) && e.code === Code.Unavailable, String(e));
    assert.match((e as Error).message, /nostream_gaming_event_bus_v1_EventBusService_PaymentCompleted/);
  }
});
