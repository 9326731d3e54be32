import type { LoadConfig } from '../../../shared/load'
import { now } from './clock'

/** How often an open loop tops up each client's sends, and a rate-limited ramp opens connections. */
export const TICK_MS = 10

/** A client as its schedule sees it: where its own messages stand, and a way to send more. */
export interface Sender {
  readonly index: number
  /** Sequence number of the next of its own messages it waits to see; all before it came back. */
  readonly nextEcho: number
  /** Sends messages up to sequence number `target` (exclusive), as far as it may. */
  sendUpTo(target: number): void
}

/**
 * When a run's clients send: a closed loop keeps `window` of each client's messages in flight, an
 * open loop sends at `rate` a client whatever comes back. It sends only between start and stop.
 */
export class SendSchedule {
  private state: 'waiting' | 'sending' | 'stopped' = 'waiting'
  private startedAt = 0
  private ticker: NodeJS.Timeout | null = null

  constructor(
    private readonly config: LoadConfig,
    /** The run's clients; more may join until the schedule starts. */
    private readonly senders: readonly Sender[]
  ) {}

  /** Starts sending, counting time from `at`; a stopped schedule stays stopped. */
  start(at: number): void {
    if (this.state !== 'waiting') return
    this.state = 'sending'
    this.startedAt = at
    if (this.config.mode === 'closed') {
      for (const sender of this.senders) this.refill(sender)
    } else {
      this.tick()
      this.ticker = setInterval(() => this.tick(), TICK_MS)
    }
  }

  /** Some of a client's own messages came back: a closed loop sends as many again. */
  echoed(sender: Sender): void {
    if (this.state === 'sending' && this.config.mode === 'closed') this.refill(sender)
  }

  /** Nothing more is sent, by any client. */
  stop(): void {
    this.state = 'stopped'
    if (this.ticker) clearInterval(this.ticker)
    this.ticker = null
  }

  /** Closed loop: keep `window` of its own messages in flight, in one write. */
  private refill(sender: Sender): void {
    sender.sendUpTo(sender.nextEcho + this.config.window)
  }

  /** Open loop: each client sends what its rate owes by now, in one write. */
  private tick(): void {
    const elapsed = now() - this.startedAt
    const periodMs = 1000 / this.config.rate
    for (const sender of this.senders) {
      // Each client's schedule is offset by its share of one period, so the clients of a tick do not
      // all send at once: an open loop is a steady stream, not a burst every period.
      const offset = (sender.index / this.config.clients) * periodMs
      if (elapsed >= offset) sender.sendUpTo(Math.floor((elapsed - offset) / periodMs) + 1)
    }
  }
}
