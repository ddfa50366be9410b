// The WebSocket path, as the dashboard takes it: wsconnect from
// @nats-io/nats-core to the test server's websocket listener. Node 20 has
// no stable global WebSocket, so the `ws` package is the implementation
// (a browser's own WebSocket needs no factory).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { wsconnect } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import WebSocket from "ws";

import { Code, codeName, createClient, isNatsRpcError, NatsRpcError, registerHandler } from "../src/index.js";
import { AIIntegrationService } from "../src/gen/gaming/ai_integration/v1/ai_integration_pb.js";
import { QuestSystemService } from "../src/gen/gaming/quest_system/v1/quest_system_pb.js";
import { connectTest, natsUrl, wsUrl } from "./harness.js";

let ws: NatsConnection;
before(async () => {
  ws = await wsconnect({
    servers: wsUrl(),
    wsFactory: (u: string) => Promise.resolve({ socket: new WebSocket(u) as unknown as globalThis.WebSocket, encrypted: false }),
  });
});
after(async () => {
  await ws.close();
});

test("the connection really is to the websocket listener", () => {
  assert.equal(ws.getServer(), new URL(wsUrl()).host);
  assert.notEqual(ws.getServer(), new URL(natsUrl()).host);
});

test("unary calls and errors over WebSocket", async () => {
  const client = createClient(QuestSystemService, ws);
  const res = await client.getQuest({ questId: "q-1" });
  assert.equal(res.quest?.quest?.title, "The Lost Lantern");
  try {
    await client.getQuest({ questId: `fail:${codeName(Code.PermissionDenied)}` });
    assert.fail("no error");
  } catch (e) {
    assert.ok(isNatsRpcError(e) && e.code === Code.PermissionDenied && e.wire, String(e));
  }
  const json = await createClient(QuestSystemService, ws, { json: true }).getQuest({ questId: "q-1" });
  assert.equal(json.quest?.quest?.questId, "q-1");
});

test("a server stream over WebSocket, with credit", async () => {
  const client = createClient(AIIntegrationService, ws, { stream: { window: 8 } });
  let n = 0;
  const stream = client.streamGenerate({ sampling: { maxTokens: 200 } });
  for await (const m of stream) {
    n++;
    assert.equal(m.sequence, n);
    assert.ok(stream.buffered <= 8);
  }
  assert.equal(n, 201);
});

test("a TypeScript handler served over WebSocket, called by a TypeScript client over TCP", async () => {
  const svc = await registerHandler(QuestSystemService, {
    getQuest: (req) => {
      if (req.questId === "") {
        throw new NatsRpcError("quest_id is required", Code.InvalidArgument);
      }
      return { quest: { quest: { questId: req.questId, title: "served over ws" } } };
    },
  }, ws, { subjectPrefix: "overws" });
  const tcp = await connectTest();
  try {
    const client = createClient(QuestSystemService, tcp, { subjectPrefix: "overws" });
    assert.equal((await client.getQuest({ questId: "q-9" })).quest?.quest?.title, "served over ws");
    await assert.rejects(client.getQuest({}), (e: unknown) => isNatsRpcError(e) && e.code === Code.InvalidArgument);
  } finally {
    await svc.stop();
    await tcp.close();
  }
});
