/** What a session's flood control says of one message. */
export type RateVerdict =
  /** Within the rate: pass it on. */
  | 'pass'
  /** Over the rate: drop it, and tell the sender (at most once a second, so the telling cannot flood either). */
  | 'drop-and-tell'
  /** Over the rate: drop it quietly, the sender was told not long ago. */
  | 'drop'
  /** Over the rate by more than a second's worth within a second: the sender is abusing, close it. */
  | 'close'

const WINDOW_MS = 1000

/**
 * A token bucket per session: `burst` messages at once, refilled at `rate` per second. The clock is read
 * only when the bucket runs dry, so a session within its rate costs one decrement per message.
 */
export class FloodControl {
  private tokens: number
  private refilledAt = performance.now()
  /** Drops in the current one-second window, and when that window and the last telling began. */
  private dropsInWindow = 0
  private windowStart = 0
  private toldAt = -Infinity
  dropped = 0

  private readonly burst: number

  constructor(
    private readonly rate: number,
    burst: number
  ) {
    this.burst = Math.max(1, burst)
    this.tokens = this.burst
  }

  take(): RateVerdict {
    if (this.tokens >= 1) {
      // Leaving a full bucket: time earns tokens from now on (while it was full it earned none).
      if (this.tokens === this.burst) this.refilledAt = performance.now()
      this.tokens--
      return 'pass'
    }
    const now = performance.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.rate) / 1000)
    this.refilledAt = now
    if (this.tokens >= 1) {
      this.tokens--
      return 'pass'
    }
    this.dropped++
    if (now - this.windowStart > WINDOW_MS) {
      this.windowStart = now
      this.dropsInWindow = 0
    }
    if (++this.dropsInWindow > Math.max(this.rate, 1)) return 'close'
    if (now - this.toldAt < WINDOW_MS) return 'drop'
    this.toldAt = now
    return 'drop-and-tell'
  }
}
