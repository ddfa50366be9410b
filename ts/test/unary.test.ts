// The TypeScript client against real Go services built from our generated
// code (ts/testserver): unary calls with every mapped error, deadlines,
// cancellation, metadata, JSON.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import type { NatsConnection } from "@nats-io/nats-core";

import { Code, codeName, createClient, isNatsRpcError, NatsRpcError } from "../src/index.js";
import { ErrorSchema } from "../src/gen/gaming/common/v1/common_pb.js";
import { QuestDifficulty, QuestStatus, QuestSystemService } from "../src/gen/gaming/quest_system/v1/quest_system_pb.js";
import { connectTest } from "./harness.js";

let nc: NatsConnection;
before(async () => {
  nc = await connectTest();
});
after(async () => {
  await nc.close();
});

async function rejection(p: Promise<unknown>): Promise<NatsRpcError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isNatsRpcError(e), `rejected with ${String(e)}, not a NatsRpcError`);
    return e;
  }
  assert.fail("the call succeeded; want an error");
}

for (const json of [false, true]) {
  test(`a unary call to the Go service (${json ? "JSON" : "protobuf"})`, async () => {
    const client = createClient(QuestSystemService, nc, { json });
    const seen: Record<string, string> = {};
    const res = await client.getQuest(
      { playerId: "p-1", questId: "q-1" },
      {
        headers: { "X-Echo": "X-Player,traceparent", "X-Player": "p-1", traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
        onHeader: (h) => {
          for (const k of h.keys()) {
            seen[k] = h.get(k);
          }
        },
      },
    );
    assert.equal(res.quest?.quest?.title, "The Lost Lantern");
    assert.equal(res.quest?.quest?.difficulty, QuestDifficulty.HARD);
    assert.equal(res.quest?.status, QuestStatus.ACTIVE);
    assert.equal(res.quest?.progress["o-1"]?.count, 2);
    assert.equal(res.quest?.acceptedAt?.seconds, BigInt(Date.UTC(2026, 2, 1, 12) / 1000));
    assert.equal(seen["X-Served-By"], "go");
    assert.equal(seen["Echo-X-Player"], "p-1", "metadata reached the handler");
    assert.equal(seen["Echo-traceparent"], "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    assert.equal(seen["Content-Type"], json ? "application/json" : undefined);
  });
}

test("every code a Go handler returns arrives with its name, number, message and details", async () => {
  const client = createClient(QuestSystemService, nc);
  for (let code = 1; code <= 16; code++) {
    const e = await rejection(client.getQuest({ questId: `fail:${codeName(code)}` }));
    assert.equal(e.code, code, e.message);
    assert.equal(e.codeName, codeName(code));
    assert.equal(e.rawMessage, `quest failed with ${codeName(code)}`);
    assert.equal(e.message, `${codeName(code)}: quest failed with ${codeName(code)}`);
    assert.ok(e.wire, "a service sent it");
    assert.equal(e.metadata.get("Nats-Rpc-Code"), codeName(code));
    const [d, ...rest] = e.findDetails(ErrorSchema);
    assert.equal(rest.length, 0);
    assert.equal(d?.message, `detail for ${codeName(code)}`);
    assert.equal(d?.retryable, code === Code.Unavailable);
  }
  const nf = await rejection(client.getQuest({ questId: "q-404" }));
  assert.equal(nf.code, Code.NotFound);
  assert.equal(nf.rawMessage, 'no quest "q-404"');
  const bad = await rejection(client.listQuests({}));
  assert.equal(bad.code, Code.InvalidArgument);
  assert.equal(bad.rawMessage, "player_id is required");
  const unimpl = await rejection(client.abandonQuest({}));
  assert.equal(unimpl.code, Code.Unimplemented);
});

test("the deadline travels to the Go handler: the call's, else the schema's", async () => {
  const client = createClient(QuestSystemService, nc);
  const own = await client.getQuest({ questId: "deadline" }, { timeoutMs: 1500 });
  const left = own.quest?.quest?.recommendedLevel ?? 0;
  assert.ok(left > 500 && left <= 1500, `handler saw ${left} ms of 1500`);
  // GetQuest has no timeout of its own: the service's default_timeout (5s)
  // wins over the client's timeoutMs (wire.md §7).
  const schema = await createClient(QuestSystemService, nc, { timeoutMs: 800 }).getQuest({ questId: "deadline" });
  const left2 = schema.quest?.quest?.recommendedLevel ?? 0;
  assert.ok(left2 > 1500 && left2 <= 5000, `handler saw ${left2} ms of the schema's 5000 (not the client's 800)`);
});

test("a call that outlives its deadline fails with deadline_exceeded, made up by the client", async () => {
  const client = createClient(QuestSystemService, nc);
  const t0 = performance.now();
  const e = await rejection(client.getQuest({ questId: "slow" }, { timeoutMs: 200 }));
  const took = performance.now() - t0;
  assert.equal(e.code, Code.DeadlineExceeded);
  assert.equal(e.wire, false);
  // Bounded by the call's 200 ms, not the schema's 5 s (a loose upper
  // bound: the machine's two cores are shared).
  assert.ok(took >= 190 && took < 3000, `took ${took} ms`);
});

test("an AbortSignal cancels the call at once; AbortSignal.timeout is a deadline", async () => {
  const client = createClient(QuestSystemService, nc);
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error("user left")), 100);
  const t0 = performance.now();
  const e = await rejection(client.getQuest({ questId: "slow" }, { signal: ac.signal }));
  assert.equal(e.code, Code.Canceled);
  assert.match(e.rawMessage, /user left/);
  assert.ok(performance.now() - t0 < 3000, "canceled, not waiting for the 5 s timeout");
  const t = await rejection(client.getQuest({ questId: "slow" }, { signal: AbortSignal.timeout(100) }));
  assert.equal(t.code, Code.DeadlineExceeded);
  const pre = new AbortController();
  pre.abort();
  assert.equal((await rejection(client.getQuest({ questId: "q-1" }, { signal: pre.signal }))).code, Code.Canceled);
});

test("nobody listening is unavailable at once; reserved metadata is refused before sending", async () => {
  const client = createClient(QuestSystemService, nc, { subjectPrefix: "nobody" });
  const t0 = performance.now();
  const e = await rejection(client.getQuest({ questId: "q-1" }));
  assert.equal(e.code, Code.Unavailable);
  assert.equal(e.wire, false);
  assert.ok(performance.now() - t0 < 3000, "no waiting for the 5 s timeout (retries included)");
  for (const k of ["Nats-Rpc-Timeout", "content-type", "Status"]) {
    const r = await rejection(createClient(QuestSystemService, nc).getQuest({ questId: "q-1" }, { headers: { [k]: "1" } }));
    assert.equal(r.code, Code.InvalidArgument, k);
  }
});

test("a request over max_payload is refused before sending", async () => {
  const e = await rejection(createClient(QuestSystemService, nc).getQuest({ questId: "q-1", playerId: "x".repeat(2 << 20) }));
  assert.equal(e.code, Code.ResourceExhausted);
  assert.match(e.rawMessage, /max_payload/);
});

test("createClient refuses invalid options", () => {
  assert.throws(() => createClient(QuestSystemService, nc, { subjectPrefix: "a.*" }), (e: unknown) => isNatsRpcError(e) && e.code === Code.InvalidArgument);
  assert.throws(() => createClient(QuestSystemService, nc, { timeoutMs: 0 }), (e: unknown) => isNatsRpcError(e) && e.code === Code.InvalidArgument);
});

test("replies and streams use the connection's inbox prefix (per-user permissions, wire.md §13)", async () => {
  const { connect } = await import("@nats-io/transport-node");
  const { natsUrl } = await import("./harness.js");
  const user = await connect({ servers: natsUrl(), inboxPrefix: "_INBOX_dashboard" });
  try {
    const replies: string[] = [];
    const sub = nc.subscribe("inboxcheck.>", {
      callback: (_e, m) => {
        replies.push(m.reply ?? "");
        m.respond(new Uint8Array(0));
      },
    });
    await nc.flush();
    const quests = createClient(QuestSystemService, user, { subjectPrefix: "inboxcheck" });
    await quests.getQuest({ questId: "q-1" });
    const { AIIntegrationService } = await import("../src/gen/gaming/ai_integration/v1/ai_integration_pb.js");
    const s = createClient(AIIntegrationService, user, { subjectPrefix: "inboxcheck", stream: { livenessMs: 200, heartbeatMs: 50 } }).streamGenerate({});
    await assert.rejects((async () => {
      for await (const _ of s) {
        // the responder answers the handshake with an empty reply: a malformed frame
      }
    })());
    sub.unsubscribe();
    assert.equal(replies.length, 2);
    for (const r of replies) {
      assert.match(r, /^_INBOX_dashboard\./);
    }
  } finally {
    await user.close();
  }
});
