// The test runner `npm test` calls after compiling: it starts the Go test
// server (ts/testserver: nats-server with JetStream and WebSocket, Go
// services from our generated code) once, runs every dist/test/*.test.js
// file with node's test runner, one file at a time, against it, and stops
// it. The server's URLs reach the tests as NATSRPC_TEST_NATS_URL and
// NATSRPC_TEST_WS_URL.
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const tsRoot = join(here, "..", "..");

/** startGoServer runs `go run .` in ts/testserver and waits for its URLs. */
export function startGoServer(): Promise<{ proc: ChildProcess; natsUrl: string; wsUrl: string }> {
  const proc = spawn("go", ["run", "."], {
    cwd: join(tsRoot, "testserver"),
    env: { ...process.env, GOWORK: "off" },
    stdio: ["pipe", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the Go test server did not start within 10 minutes")), 600_000);
    proc.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run go (is Go installed?): ${e.message}`));
    });
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the Go test server exited with ${code} before it started`));
    });
    const lines = createInterface({ input: proc.stdout! });
    lines.once("line", (line) => {
      clearTimeout(timer);
      proc.removeAllListeners("exit");
      const { natsUrl, wsUrl } = JSON.parse(line) as { natsUrl: string; wsUrl: string };
      resolve({ proc, natsUrl, wsUrl });
    });
  });
}

/** stopGoServer closes the server's standard input and waits for it to exit. */
export function stopGoServer(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) {
      resolve();
      return;
    }
    const kill = setTimeout(() => proc.kill("SIGKILL"), 15_000);
    proc.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    proc.stdin!.end();
  });
}

function runFile(file: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--test", file], { stdio: "inherit", env });
    p.on("exit", (code, signal) => resolve(code ?? (signal !== null ? 1 : 0)));
  });
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const files = readdirSync(here)
    .filter((f) => f.endsWith(".test.js"))
    .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
    .sort()
    .map((f) => join(here, f));
  const server = await startGoServer();
  let failed = 0;
  try {
    const env = { ...process.env, NATSRPC_TEST_NATS_URL: server.natsUrl, NATSRPC_TEST_WS_URL: server.wsUrl };
    for (const f of files) {
      if ((await runFile(f, env)) !== 0) {
        failed++;
      }
    }
  } finally {
    await stopGoServer(server.proc);
  }
  if (failed > 0) {
    console.error(`${failed} of ${files.length} test files failed`);
    process.exit(1);
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
