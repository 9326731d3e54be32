/**
 * How long to wait before reconnecting after `failures` failed tries: full jitter (as AWS's backoff advice),
 * a wait drawn from 0 up to `baseMs` doubled per failure, capped at `maxMs`, so thousands of clients dropped
 * at once do not come back at once.
 */
export function backoffMs(failures: number, { baseMs = 100, maxMs = 5000, random = Math.random }: { baseMs?: number; maxMs?: number; random?: () => number } = {}): number {
  return random() * Math.min(maxMs, baseMs * 2 ** failures)
}
