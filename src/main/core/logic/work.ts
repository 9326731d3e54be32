/**
 * Simulated CPU-bound work for `--work-us`. It is a fixed count of loop iterations, not a
 * wall-clock wait: a thread that is descheduled must still do all of it, so the pool's
 * measured speed-up is one the cores really delivered.
 */
export function spin(iterations: number): number {
  let x = 0x9e3779b9 | 0
  for (let i = 0; i < iterations; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
  }
  return x
}

/**
 * Loop iterations per microsecond on this machine, measured once on the calling thread. The fastest
 * of many short rounds is kept: a round that another process interrupts only reads slower, so the
 * best one is the machine's real speed even while a load generator shares the cores.
 */
export function calibrateSpin(): number {
  const probe = 500_000
  spin(probe) // warm up the JIT before timing
  let best = Infinity
  for (let round = 0; round < 15; round++) {
    const start = process.hrtime.bigint()
    spin(probe)
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1000)
  }
  return probe / best
}
