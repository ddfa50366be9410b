// npm run bench: calls per second of the TypeScript client against the Go
// QuestSystemService of ts/testserver, next to a raw @nats-io/transport-node
// request loop sending the same protobuf bytes to the same service (the
// ceiling: no encoding, no decoding, no headers). Runs alternate between
// the two, each bounded in calls and time, and the medians are compared.
//
//	BENCH_RUNS=5 BENCH_SECONDS=2 npm run bench
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { toBinary } from "@bufbuild/protobuf";

import { createClient } from "../src/index.js";
import { GetQuestRequestSchema, QuestSystemService } from "../src/gen/gaming/quest_system/v1/quest_system_pb.js";
import { startGoServer, stopGoServer } from "../test/run.js";

const runs = Number(process.env["BENCH_RUNS"] ?? 5);
const seconds = Number(process.env["BENCH_SECONDS"] ?? 2);
const maxCalls = 200_000;

type Loop = () => Promise<void>;

/** measure runs loop with `inFlight` callers for `seconds`, returns calls per second. */
async function measure(loop: Loop, inFlight: number): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let calls = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < end && calls < maxCalls) {
      await loop();
      calls++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  return calls / ((performance.now() - t0) / 1000);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const server = await startGoServer();
  let nc: NatsConnection | undefined;
  try {
    // Both sides use one connection, configured for speed (nats.js's
    // request otherwise captures a stack trace per call).
    nc = await connect({ servers: server.natsUrl, noAsyncTraces: true });
    const client = createClient(QuestSystemService, nc);
    const subject = "gaming.quest_system.v1.QuestSystemService.GetQuest";
    const req = { playerId: "p-1", questId: "bench" };
    const bytes = toBinary(GetQuestRequestSchema, { $typeName: "gaming.quest_system.v1.GetQuestRequest", playerId: "p-1", questId: "bench" });
    const raw: Loop = async () => {
      await nc!.request(subject, bytes, { timeout: 5000 });
    };
    const typed: Loop = async () => {
      await client.getQuest(req);
    };
    // Warm up both paths (JIT, connection buffers).
    for (const loop of [raw, typed]) {
      await measure(loop, 16);
    }
    const rows: string[] = [];
    for (const inFlight of [1, 32]) {
      const r: number[] = [];
      const t: number[] = [];
      for (let i = 0; i < runs; i++) {
        r.push(await measure(raw, inFlight));
        t.push(await measure(typed, inFlight));
      }
      const mr = median(r);
      const mt = median(t);
      rows.push(`| ${inFlight} | ${Math.round(mr)} | ${Math.round(mt)} | ${(mt / mr).toFixed(2)}x |`);
      console.error(`in flight ${inFlight}: raw ${r.map(Math.round).join(", ")}; natsrpc ${t.map(Math.round).join(", ")}`);
    }
    console.log(`GetQuest against the Go service, ${runs} alternating runs of ${seconds}s each, medians (calls/s):\n`);
    console.log("| calls in flight | raw nats.js request | natsrpc client | ratio |");
    console.log("|---|---|---|---|");
    for (const row of rows) {
      console.log(row);
    }
  } finally {
    await nc?.close();
    await stopGoServer(server.proc);
  }
}

await main();
