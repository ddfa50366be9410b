// A request multiplexer: one wildcard inbox subscription per connection
// for every unary call and durable-event publish, with cancellation.
// nats.js's own request() cannot be canceled by an AbortSignal, and its
// shared inbox is private; this one is small and lets a call end the
// moment its signal fires.
import { createInbox } from "@nats-io/nats-core";
import type { Msg, MsgHdrs, NatsConnection, Subscription } from "@nats-io/nats-core";

import { timer } from "./timer.js";

/** RequestOutcome is why a request ended without a reply. */
export type RequestFailure =
  | { kind: "timeout" }
  | { kind: "aborted"; reason: unknown }
  | { kind: "no_responders" }
  | { kind: "closed"; cause?: unknown }
  | { kind: "publish"; cause: unknown };

/** RequestFailed rejects a Mux request that got no reply. */
export class RequestFailed extends Error {
  constructor(readonly failure: RequestFailure) {
    super(failure.kind);
  }
}

interface Pending {
  resolve(m: Msg): void;
  reject(e: RequestFailed): void;
}

const muxes = new WeakMap<NatsConnection, Mux>();

/** muxFor returns the connection's multiplexer, creating it on first use. */
export function muxFor(nc: NatsConnection): Mux {
  let m = muxes.get(nc);
  if (m === undefined || m.closed) {
    m = new Mux(nc);
    muxes.set(nc, m);
  }
  return m;
}

/** inboxPrefixOf is the connection's configured inbox prefix (default _INBOX). */
export function inboxPrefixOf(nc: NatsConnection): string | undefined {
  return (nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix;
}

/** Mux sends requests whose replies come back on one wildcard subscription. */
export class Mux {
  private readonly prefix: string;
  private readonly pending = new Map<string, Pending>();
  private readonly sub: Subscription;
  private seq = 0;
  closed = false;

  constructor(private readonly nc: NatsConnection) {
    this.prefix = `${createInbox(inboxPrefixOf(nc))}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, {
      callback: (err, msg) => {
        if (err !== null) {
          this.failAll(err);
          return;
        }
        const token = msg.subject.slice(this.prefix.length);
        const p = this.pending.get(token);
        if (p === undefined) {
          return; // a late reply to a request that ended
        }
        this.pending.delete(token);
        if (msg.data.length === 0 && msg.headers?.code === 503) {
          p.reject(new RequestFailed({ kind: "no_responders" }));
          return;
        }
        p.resolve(msg);
      },
    });
    void this.sub.closed.then(() => this.failAll(undefined), (e: unknown) => this.failAll(e));
  }

  private failAll(cause: unknown): void {
    this.closed = true;
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      p.reject(new RequestFailed({ kind: "closed", cause }));
    }
  }

  /**
   * request publishes data on subject with a reply subject of the
   * multiplexer and resolves with the reply. It rejects with RequestFailed:
   * timeout after timeoutMs, aborted when signal fires, no_responders,
   * closed when the connection closes.
   */
  request(subject: string, data: Uint8Array, headers: MsgHdrs | undefined, timeoutMs: number, signal: AbortSignal | undefined): Promise<Msg> {
    if (this.closed || this.nc.isClosed()) {
      return Promise.reject(new RequestFailed({ kind: "closed" }));
    }
    const token = (this.seq++).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      let cancelTimer: (() => void) | undefined;
      let onAbort: (() => void) | undefined;
      const done = (): void => {
        this.pending.delete(token);
        cancelTimer?.();
        if (onAbort !== undefined) {
          signal!.removeEventListener("abort", onAbort);
        }
      };
      this.pending.set(token, {
        resolve: (m) => {
          done();
          resolve(m);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      cancelTimer = timer(timeoutMs, () => {
        done();
        reject(new RequestFailed({ kind: "timeout" }));
      });
      if (signal !== undefined) {
        onAbort = () => {
          done();
          reject(new RequestFailed({ kind: "aborted", reason: signal.reason }));
        };
        signal.addEventListener("abort", onAbort, { once: true });
      }
      try {
        this.nc.publish(subject, data, headers === undefined ? { reply: this.prefix + token } : { reply: this.prefix + token, headers });
      } catch (e) {
        done();
        reject(new RequestFailed({ kind: "publish", cause: e }));
      }
    });
  }
}
