// A TypeScript service: Go clients (through ts/testserver's "tstest.call")
// call a TypeScript handler of the QuestSystemService, and the nats CLI
// (natscli, pinned in tools/natscli/go.mod) discovers it with `nats micro`.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, test } from "node:test";
import { promisify } from "node:util";

import type { NatsConnection } from "@nats-io/nats-core";

import { Code, codeName, endpointMetadata, forService, NatsRpcError, registerHandler, VERSION } from "../src/index.js";
import type { MicroInfo, MicroStats, NatsRpcService } from "../src/index.js";
import { ErrorSchema } from "../src/gen/gaming/common/v1/common_pb.js";
import { QuestStatus, QuestSystemService } from "../src/gen/gaming/quest_system/v1/quest_system_pb.js";
import { connectTest, natsUrl, repoRoot, sleep } from "./harness.js";

const microName = "gaming_quest_system_v1_QuestSystemService";
const prefix = `tsimpl${process.pid}`;
let nc: NatsConnection;
let svc: NatsRpcService;
let slowAborted = 0;

before(async () => {
  nc = await connectTest();
  svc = await registerHandler(
    QuestSystemService,
    {
      getQuest: async (req, ctx) => {
        for (const name of ctx.requestHeader.get("X-Echo").split(",")) {
          if (name !== "") {
            ctx.responseHeader.set(`Echo-${name}`, ctx.requestHeader.get(name));
          }
        }
        if (req.questId === "q-1") {
          ctx.responseHeader.set("X-Served-By", "ts");
          return { quest: { quest: { questId: "q-1", title: "The Lost Lantern", recommendedLevel: 12 }, status: QuestStatus.ACTIVE, progress: { "o-1": { objectiveId: "o-1", count: 2 } } } };
        }
        if (req.questId === "deadline") {
          return { quest: { quest: { questId: "deadline", recommendedLevel: Math.trunc(ctx.deadline - Date.now()) } } };
        }
        if (req.questId === "slow") {
          await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
          slowAborted++;
          throw ctx.signal.reason;
        }
        if (req.questId.startsWith("fail:")) {
          const name = req.questId.slice(5);
          const code = [...Array(17).keys()].find((c) => codeName(c) === name) ?? Code.Unknown;
          throw new NatsRpcError(`quest failed with ${name}`, code, { details: [{ desc: ErrorSchema, value: { message: `detail for ${name}` } }] });
        }
        throw new NatsRpcError(`no quest ${JSON.stringify(req.questId)}`, Code.NotFound);
      },
      listQuests: (req) => {
        if (req.playerId === "") {
          throw new NatsRpcError("player_id is required", Code.InvalidArgument);
        }
        return { quests: [] };
      },
    },
    nc,
    { subjectPrefix: prefix },
  );
});

after(async () => {
  await svc.stop();
  await nc.close();
});

interface GoResult {
  code: string;
  message?: string;
  wire?: boolean;
  response?: { quest?: { quest?: { questId?: string; title?: string; recommendedLevel?: number }; status?: string } };
  responseHeaders?: Record<string, string>;
  details?: { "@type": string; message?: string }[];
}

/** goCall has the Go client of ts/testserver call the TypeScript handler. */
async function goCall(method: string, request: object, extra: { headers?: Record<string, string>; timeoutMs?: number; json?: boolean } = {}): Promise<GoResult> {
  const m = await nc.request("tstest.call", new TextEncoder().encode(JSON.stringify({ method, request, subjectPrefix: prefix, ...extra })), { timeout: 10_000 });
  const r = JSON.parse(new TextDecoder().decode(m.data)) as GoResult;
  assert.notEqual(r.code, "harness_error", r.message);
  return r;
}

for (const json of [false, true]) {
  test(`a Go client calls the TypeScript handler (${json ? "JSON" : "protobuf"})`, async () => {
    const r = await goCall("GetQuest", { questId: "q-1" }, { json, headers: { "X-Echo": "X-Player", "X-Player": "p-7" } });
    assert.equal(r.code, "ok");
    assert.equal(r.response?.quest?.quest?.title, "The Lost Lantern");
    assert.equal(r.response?.quest?.status, "QUEST_STATUS_ACTIVE");
    assert.equal(r.responseHeaders?.["X-Served-By"], "ts");
    assert.equal(r.responseHeaders?.["Echo-X-Player"], "p-7");
    assert.equal(r.responseHeaders?.["Content-Type"], json ? "application/json" : undefined);
  });
}

test("every code a TypeScript handler throws reaches the Go client, with its details", async () => {
  for (let code = 1; code <= 16; code++) {
    const r = await goCall("GetQuest", { questId: `fail:${codeName(code)}` });
    assert.equal(r.code, codeName(code));
    assert.equal(r.message, `quest failed with ${codeName(code)}`);
    assert.equal(r.wire, true);
    assert.deepEqual(r.details, [{ "@type": "type.googleapis.com/gaming.common.v1.Error", message: `detail for ${codeName(code)}` }]);
  }
  const bad = await goCall("ListQuests", {});
  assert.equal(bad.code, "invalid_argument");
  assert.equal(bad.message, "player_id is required");
  assert.equal((await goCall("ListQuests", { playerId: "p-1" })).code, "ok");
});

test("the Go client's deadline reaches the TypeScript handler, which sees it pass", async () => {
  const r = await goCall("GetQuest", { questId: "deadline" }, { timeoutMs: 1500 });
  const left = r.response?.quest?.quest?.recommendedLevel ?? 0;
  assert.ok(left > 500 && left <= 1500, `the handler saw ${left} ms of 1500`);
  const abortedBefore = slowAborted;
  const slow = await goCall("GetQuest", { questId: "slow" }, { timeoutMs: 200 });
  // Either side may report the deadline first (the Go client's timer, or the
  // handler's deadline_exceeded reply when the client's goroutine runs late
  // on a loaded machine); what matters is the code, and that the handler's
  // signal fired at the deadline instead of leaving it waiting forever.
  assert.equal(slow.code, "deadline_exceeded");
  for (let i = 0; i < 100 && slowAborted === abortedBefore; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(slowAborted, abortedBefore + 1, "the handler's signal never fired at the deadline");
});

test("$SRV: the TypeScript instance answers PING, INFO and STATS as the Go runtime does", async () => {
  const info = JSON.parse(new TextDecoder().decode((await nc.request(`$SRV.INFO.${microName}.${svc.id}`, new Uint8Array(0), { timeout: 2000 })).data)) as MicroInfo;
  assert.equal(info.type, "io.nats.micro.v1.info_response");
  assert.equal(info.name, microName);
  assert.equal(info.version, "1.0.0");
  assert.equal(info.description, "gaming.quest_system.v1.QuestSystemService");
  assert.deepEqual(info.metadata, { "natsrpc.version": VERSION, "natsrpc.runtime": "typescript", "proto.service": "gaming.quest_system.v1.QuestSystemService", "proto.package": "gaming.quest_system.v1" });
  assert.deepEqual(info.endpoints.map((e) => e.name), ["GetQuest", "ListQuests"]);
  assert.equal(info.endpoints[0]?.subject, `${prefix}.gaming.quest_system.v1.QuestSystemService.GetQuest`);
  assert.equal(info.endpoints[0]?.queue_group, "q");
  // The Go instance of the same service describes its endpoints with the
  // same metadata.
  const replies = nc.requestMany(`$SRV.INFO.${microName}`, new Uint8Array(0), { maxWait: 1000, strategy: "timer" });
  const goInfos: MicroInfo[] = [];
  for await (const m of await replies) {
    const i = JSON.parse(new TextDecoder().decode(m.data)) as MicroInfo;
    if (i.id !== svc.id) {
      goInfos.push(i);
    }
  }
  assert.equal(goInfos.length, 1, "one Go instance");
  const goInfo = goInfos[0]!;
  assert.notEqual(goInfo.metadata["natsrpc.version"], undefined);
  for (const ep of info.endpoints) {
    const goEp = goInfo.endpoints.find((e) => e.name === ep.name);
    assert.ok(goEp !== undefined);
    assert.deepEqual(ep.metadata, goEp.metadata, ep.name);
    assert.equal(`${prefix}.${goEp.subject}`, ep.subject);
    assert.equal(ep.queue_group, goEp.queue_group);
  }
  // Every endpoint of every gaming method, as Go would describe it.
  for (const m of forService(QuestSystemService).methods) {
    const goEp = goInfo.endpoints.find((e) => e.name === m.name);
    assert.deepEqual(endpointMetadata(m), goEp?.metadata, m.name);
  }
  const ping = JSON.parse(new TextDecoder().decode((await nc.request(`$SRV.PING.${microName}.${svc.id}`, new Uint8Array(0), { timeout: 2000 })).data)) as { type: string; id: string };
  assert.equal(ping.type, "io.nats.micro.v1.ping_response");
  assert.equal(ping.id, svc.id);
});

const run = promisify(execFile);

/** nats runs the pinned nats CLI against the test server. */
async function nats(...args: string[]): Promise<string> {
  const { stdout } = await run("go", ["tool", "-modfile=tools/natscli/go.mod", "nats", "--server", natsUrl(), "--timeout", "2s", ...args], {
    cwd: repoRoot,
    env: { ...process.env, GOWORK: "off" },
    maxBuffer: 16 << 20,
    timeout: 600_000,
  });
  return stdout;
}

test("nats micro ls, info and stats see the TypeScript service", { timeout: 660_000 }, async () => {
  const before = await goCall("GetQuest", { questId: "q-404" });
  assert.equal(before.code, "not_found");
  const ls = JSON.parse(await nats("micro", "ls", microName, "--json")) as MicroInfo[];
  const mine = ls.find((i) => i.id === svc.id);
  assert.ok(mine !== undefined, `nats micro ls lacks the TypeScript instance ${svc.id}`);
  assert.equal(mine.version, "1.0.0");
  assert.equal(ls.length, 2, "the Go instance and the TypeScript one");
  const info = JSON.parse(await nats("micro", "info", microName, svc.id, "--json")) as { info: MicroInfo; stats: MicroStats };
  assert.deepEqual(info.info.endpoints.map((e) => e.name), ["GetQuest", "ListQuests"]);
  const stats = JSON.parse(await nats("micro", "stats", microName, "--json")) as MicroStats[];
  const st = stats.find((s) => s.id === svc.id);
  assert.ok(st !== undefined);
  const get = st.endpoints.find((e) => e.name === "GetQuest");
  assert.ok(get !== undefined && get.num_requests >= 1 && get.num_errors >= 1, JSON.stringify(get));
  assert.match(get.last_error, /^(not_found|deadline_exceeded|[a-z_]+): /);
  assert.ok(get.processing_time > 0);
});

test("stop drains: a request in flight is answered, then the instance leaves discovery", async () => {
  const other = await registerHandler(QuestSystemService, {
    getQuest: async () => {
      await sleep(200);
      return { quest: { quest: { questId: "late" } } };
    },
  }, nc, { subjectPrefix: `${prefix}stop` });
  const call = nc.request(`${prefix}stop.gaming.quest_system.v1.QuestSystemService.GetQuest`, new Uint8Array(0), { timeout: 2000 });
  await sleep(50);
  await other.stop();
  const reply = await call;
  assert.equal(reply.headers?.get("Nats-Rpc-Code") ?? "", "", "answered, not refused");
  await assert.rejects(nc.request(`$SRV.PING.${microName}.${other.id}`, new Uint8Array(0), { timeout: 300 }));
});

test("registerHandler refuses what it cannot serve", async () => {
  await assert.rejects(registerHandler(QuestSystemService, { nope: () => ({}) } as never, nc), /"nope" is not a method/);
  const { AIIntegrationService } = await import("../src/gen/gaming/ai_integration/v1/ai_integration_pb.js");
  await assert.rejects(registerHandler(AIIntegrationService, { streamGenerate: () => ({}) } as never, nc), /unary methods only/);
  await assert.rejects(registerHandler(QuestSystemService, {}, nc, { subjectPrefix: "a..b" }), /subject prefix/);
});

test("a full pool answers resource_exhausted at once and counts the rejection", async () => {
  const busy = await registerHandler(QuestSystemService, {
    getQuest: async () => {
      await sleep(300);
      return { quest: { quest: { questId: "busy" } } };
    },
  }, nc, { subjectPrefix: `${prefix}busy`, concurrency: 1, maxPending: 1 });
  try {
    const subject = `${prefix}busy.gaming.quest_system.v1.QuestSystemService.GetQuest`;
    const calls = [0, 1, 2].map(() => nc.request(subject, new Uint8Array(0), { timeout: 3000 }));
    const t0 = performance.now();
    const replies = await Promise.all(calls);
    const codes = replies.map((r) => r.headers?.get("Nats-Rpc-Code") ?? "ok").sort();
    assert.deepEqual(codes, ["ok", "ok", "resource_exhausted"]);
    assert.ok(performance.now() - t0 >= 550, "the queued request waited for the running one");
    const ep = busy.stats().endpoints.find((e) => e.name === "GetQuest")!;
    assert.equal(ep.num_requests, 3);
    assert.equal(ep.num_errors, 1);
    assert.equal(ep.data.rejected, 1);
    assert.match(ep.last_error, /^resource_exhausted: service overloaded/);
    assert.ok(ep.data.queue_time > 0);
  } finally {
    await busy.stop();
  }
});
