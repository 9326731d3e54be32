import { randomBytes } from 'node:crypto'
import type { ClusterStore, Writer } from './redis'

/**
 * Every time a node keeps by, derived from one setting (`--lease-ms`) so that they stay in the order that
 * makes fencing safe: a node cut off from Redis stops serving (fences) after `leaseMs` without a renewal,
 * counted from when it sent the last renewal Redis accepted, which is before Redis started that lease's TTL;
 * the other nodes may reap it only once that TTL (`keyTtlMs`, half as long again) has run out in Redis.
 * So a node has closed its sessions a good margin before anyone else takes them out of their rooms.
 */
export interface LeaseTiming {
  /** A node that had no renewal answered for this long stops serving; every command times out after it too. */
  leaseMs: number
  /** How often the lease is renewed and the other nodes are checked. */
  renewMs: number
  /** The lease's TTL in Redis: the earliest the others may reap a node that stopped renewing. */
  keyTtlMs: number
  /** A nick outlives a node that stopped renewing it by this much at most, if no reaper frees it first. */
  nickTtlS: number
  /** After Redis lost its data, nicks are not claimed for this long: the nodes re-assert theirs first. */
  settleMs: number
}

/** The default lease: a node cut off from Redis fences within 5 s, and is reaped after 7.5 s. */
export const DEFAULT_LEASE_MS = 5000

export function leaseTiming(leaseMs: number): LeaseTiming {
  return {
    leaseMs,
    renewMs: Math.max(50, Math.round(leaseMs / 5)),
    keyTtlMs: Math.round(leaseMs * 1.5),
    nickTtlS: Math.max(2, Math.ceil((leaseMs * 6) / 1000)),
    settleMs: leaseMs
  }
}

type Renewal = 'renewed' | 'lost' | 'unanswered'

/**
 * A node's lease in Redis (etcd's lease, in a key): held by one epoch of one run of the node id, renewed
 * with its heartbeat, and checked by the scripts that write on the node's behalf. A new epoch is taken at
 * every (re)join, so what an older epoch sends late is refused by Redis.
 */
export class Lease {
  private epochs = 0
  /** The epoch that holds the lease now (`<run>.<n>`). */
  epoch = ''
  /** The data set this node registered in: another one means Redis lost its data since. */
  private generation = ''
  /** When the last renewal Redis accepted was sent (a monotonic clock: a wall clock stepped back would delay the fence). */
  private renewedAt = 0
  /** When Redis last answered a renewal at all. */
  private answeredAt = 0

  constructor(
    private readonly store: ClusterStore,
    private readonly nodeId: string,
    private readonly run: string,
    private readonly timing: LeaseTiming
  ) {}

  get writer(): Writer {
    return { node: this.nodeId, epoch: this.epoch }
  }

  /** Takes the lease under a new epoch (joining, or rejoining after a fence); throws while another run holds it. */
  async acquire(): Promise<void> {
    if ((await this.take(`${this.run}.${this.epochs + 1}`, 'join')) !== 'taken') {
      throw new Error(`node id ${this.nodeId} is in use by a live node (or one stopped under ${this.timing.keyTtlMs / 1000} s ago)`)
    }
    this.epochs++
  }

  /**
   * Takes it again under the same epoch after Redis lost it with its data: 'taken' if another run took it
   * meanwhile, 'not lost' if Redis kept its data (the lease went some other way: the node must fence).
   */
  async restore(): Promise<'restored' | 'taken' | 'not lost'> {
    const outcome = await this.take(this.epoch, 'restore')
    return outcome === 'taken' ? 'restored' : outcome === 'held elsewhere' ? 'taken' : 'not lost'
  }

  /** 'taken', 'held elsewhere' (another run of the id holds it), or 'not lost' (restore: Redis kept its data). */
  private async take(epoch: string, mode: 'join' | 'restore'): Promise<'taken' | 'held elsewhere' | 'not lost'> {
    const { nodeId, timing } = this
    const sentAt = performance.now()
    const generation = await this.store.acquireLease(nodeId, epoch, `${this.run}.`, timing.keyTtlMs, this.generation, randomBytes(8).toString('hex'), timing.settleMs, mode)
    if (generation === 0) return 'held elsewhere'
    if (generation === -1) return 'not lost'
    this.epoch = epoch
    this.generation = generation
    this.renewedAt = sentAt
    this.answeredAt = performance.now()
    return 'taken'
  }

  /** Renews the lease and stores the heartbeat with it: 'lost' if Redis no longer has this epoch's lease. */
  async renew(beat: string): Promise<Renewal> {
    const sentAt = performance.now()
    let held: boolean
    try {
      held = await this.store.renewLease(this.nodeId, this.epoch, this.timing.keyTtlMs, beat)
    } catch {
      return 'unanswered'
    }
    this.answeredAt = performance.now()
    if (!held) return 'lost'
    this.renewedAt = Math.max(this.renewedAt, sentAt)
    return 'renewed'
  }

  /** How long ago the last renewal Redis accepted was sent (ms): past the lease, the node fences. */
  get ageMs(): number {
    return performance.now() - this.renewedAt
  }

  /** Whether the lease may have run out in Redis by now, as far as this node can know: past this it must stop. */
  get lapsed(): boolean {
    return this.ageMs >= this.timing.leaseMs
  }

  /** Whether Redis answered lately (two renewals' time). */
  get reachable(): boolean {
    return performance.now() - this.answeredAt <= 2 * this.timing.renewMs + 50
  }
}
