// Shared test support: the Go test server's URLs (test/run.ts starts it and
// passes them in the environment), connections, the repository's paths.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";

/** tsRoot is ts/ (this file runs from ts/dist/test). */
export const tsRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** repoRoot is the repository's root. */
export const repoRoot = join(tsRoot, "..");

/** natsUrl is the Go test server's NATS URL. */
export function natsUrl(): string {
  const u = process.env["NATSRPC_TEST_NATS_URL"];
  if (u === undefined || u === "") {
    throw new Error("NATSRPC_TEST_NATS_URL is not set: run the tests with `npm test` (test/run.ts starts the Go test server)");
  }
  return u;
}

/** wsUrl is the Go test server's WebSocket URL. */
export function wsUrl(): string {
  const u = process.env["NATSRPC_TEST_WS_URL"];
  if (u === undefined || u === "") {
    throw new Error("NATSRPC_TEST_WS_URL is not set: run the tests with `npm test`");
  }
  return u;
}

/** connectTest opens a connection to the test server; close it when done. */
export function connectTest(): Promise<NatsConnection> {
  return connect({ servers: natsUrl(), noAsyncTraces: true });
}

/** readJson reads a JSON file of the repository. */
export function readJson<T>(relPath: string): T {
  return JSON.parse(readFileSync(join(repoRoot, relPath), "utf8")) as T;
}

/** sleep waits ms milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let prefixes = 0;
/** uniquePrefix is a subject prefix no other test of this process uses. */
export function uniquePrefix(what: string): string {
  return `t${process.pid}_${prefixes++}_${what}`;
}
