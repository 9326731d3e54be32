/**
 * How late the event loop runs: a timer due every `periodMs` reports how late it fired. A loop blocked for
 * 100 ms makes one tick late by ~100 ms and swallows the ticks that were due meanwhile; those are reported
 * too, each as late as it would have been (HdrHistogram's recordCorrectedValue), so a stall weighs in the
 * percentiles as long as it lasted, not as one sample among many quiet ones.
 *
 * Not monitorEventLoopDelay: it measures loop iterations, and misses a long callback that runs in the
 * timers phase (such as encoding a snapshot right after the sampler read it) entirely.
 */
export class LagProbe {
  private readonly timer: NodeJS.Timeout
  private due: number

  constructor(periodMs: number, onLate: (lateMs: number) => void) {
    this.due = performance.now() + periodMs
    this.timer = setInterval(() => {
      const now = performance.now()
      const late = Math.max(0, now - this.due)
      onLate(late)
      // The ticks the stall swallowed, each as late as it would have been.
      for (let missed = late - periodMs; missed > 0; missed -= periodMs) onLate(missed)
      this.due = now + periodMs
    }, periodMs).unref()
  }

  close(): void {
    clearInterval(this.timer)
  }
}
