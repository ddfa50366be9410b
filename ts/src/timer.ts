// timer: setTimeout for the long delays a deadline may have.
/** maxTimerMs is the longest delay setTimeout takes; longer ones fire at once. */
const maxTimerMs = 2 ** 31 - 1;

/**
 * timer calls fn after ms milliseconds and returns a function that cancels
 * it. Unlike a bare setTimeout, a delay longer than about 24.8 days (a
 * 10-digit Nats-Rpc-Timeout allows 115 days) waits in steps instead of
 * firing at once.
 */
export function timer(ms: number, fn: () => void): () => void {
  let t: ReturnType<typeof setTimeout>;
  const arm = (left: number): void => {
    if (left > maxTimerMs) {
      t = setTimeout(() => arm(left - maxTimerMs), maxTimerMs);
    } else {
      t = setTimeout(fn, Math.max(left, 0));
    }
  };
  arm(ms);
  return () => clearTimeout(t);
}
