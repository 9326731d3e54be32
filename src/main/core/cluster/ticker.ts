/**
 * Runs `tick` every `periodMs`, never two at once: a tick that waits on Redis (away, or slow) delays the
 * next instead of piling more up behind it. Returns the stop function.
 */
export function every(periodMs: number, tick: () => Promise<unknown>): () => void {
  let timer: NodeJS.Timeout | null = null
  let stopped = false
  const schedule = () => {
    timer = setTimeout(() => {
      tick()
        .catch(() => {})
        .finally(() => !stopped && schedule())
    }, periodMs)
  }
  schedule()
  return () => {
    stopped = true
    if (timer) clearTimeout(timer)
  }
}
