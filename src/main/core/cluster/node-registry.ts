import type { ClusterNode, RemoteSession } from '../../../shared/telemetry'
import { memberOf } from './keys'
import { Lease, type LeaseTiming } from './lease'
import type { ClusterStore } from './redis'
import { every } from './ticker'

/** What a node says about itself in its heartbeat. */
export interface NodeBeat {
  run: string
  sessions: number
  msgsInPerSec: number
  msgsOutPerSec: number
  listeners: string[]
  at: number
}

/** A session as its node registers it in Redis: enough to list it elsewhere and to reap it if the node dies. */
export interface SessionRecord {
  /** Its subject in room entries (`<run>/<session>`): the reaper's LEFT names it so, for its node to know it. */
  subject: string
  nick: string
  room: string | null
  /** The user it logged in as; null without (and as read from a node that did not say). */
  user: string | null
  remote: string
  listener: string
  connectedAt: number
}

/** A dead node's session, to be taken out of its room by a survivor. */
export interface OrphanSession {
  node: string
  id: number
  record: SessionRecord
}

export interface RegistryHooks {
  beat(): Omit<NodeBeat, 'run' | 'at'>
  /** Nicks this node's sessions hold (not guests), renewed with every heartbeat. */
  heldNicks(): Iterable<string>
  /** Takes a dead node's sessions out of their rooms (appends LEFT for each); resolves when appended. */
  reap(orphans: OrphanSession[]): Promise<void>
  /** The lease may have run out: stop serving now, before any other node may reap this one. */
  fenced(reason: string): void
  /** Redis lost the node's registration with its data: nobody reaped it, what it holds is to be registered again. */
  restore(): Promise<void>
  log(text: string, error?: boolean): void
  /** An error that may come once per session while its cause lasts: said once a second per kind. */
  repeated(kind: string, text: string): void
}

/** Sessions of another node listed in the control room: a sample, not a census of a 10,000-session node. */
const REMOTE_SESSIONS_SHOWN = 500
/** Guest numbers taken from Redis at a time: one round trip per this many connects. */
const GUEST_BLOCK = 1000

const isString = (value: unknown): value is string => typeof value === 'string'
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0

/** A heartbeat as read back from Redis; null if it is not one (written by hand, or by another version). */
function parseBeat(json: string): NodeBeat | null {
  try {
    const beat = JSON.parse(json) as Partial<NodeBeat> | null
    if (!beat || !isString(beat.run) || !isCount(beat.sessions) || !isCount(beat.msgsInPerSec) || !isCount(beat.msgsOutPerSec) || !isCount(beat.at)) return null
    if (!Array.isArray(beat.listeners) || !beat.listeners.every(isString)) return null
    return beat as NodeBeat
  } catch {
    return null
  }
}

/** A session record as read back from Redis; null if it is not one. */
function parseSessionRecord(json: string): SessionRecord | null {
  try {
    const record = JSON.parse(json) as Partial<SessionRecord> | null
    if (!record || !isString(record.subject) || !isString(record.nick) || !isString(record.remote) || !isString(record.listener)) return null
    if (!(record.room === null || isString(record.room)) || !isCount(record.connectedAt)) return null
    if (!(record.user === undefined || record.user === null || isString(record.user))) return null
    return { ...record, user: record.user ?? null } as SessionRecord
  } catch {
    return null
  }
}

/**
 * The node's presence in the cluster: its lease (renewed with the heartbeat; lapsed, the node fences itself
 * and rejoins under a new epoch once Redis answers), its session records, the renewal of its nicks, the
 * survivors' watch for nodes whose lease ran out, and the cluster view. Its ticks are single-flight.
 */
export class NodeRegistry {
  readonly lease: Lease
  private stops: (() => void)[] = []
  private guests: { next: number; end: number } = { next: 0, end: 0 }
  private guestBlock: Promise<void> | null = null
  /** No node is reaped before this: after Redis comes back, every node gets the time to renew its lease. */
  private graceUntil = 0
  /** Why this node stopped serving; null while it serves. */
  fenced: string | null = null
  nodes: ClusterNode[] = []
  remoteSessions: RemoteSession[] = []
  nodesReaped = 0

  constructor(
    private readonly store: ClusterStore,
    readonly nodeId: string,
    private readonly run: string,
    private readonly timing: LeaseTiming,
    private readonly hooks: RegistryHooks
  ) {
    this.lease = new Lease(store, nodeId, run, timing)
  }

  /** Takes the node id's lease (refused while another live run holds it), and reaps what an earlier run of the id left. */
  async join(): Promise<void> {
    await this.lease.acquire()
    if (!(await this.reapNode(this.nodeId, 'an earlier run of this node'))) throw new Error(`node ${this.nodeId} is being reaped; try again`)
    const { renewMs } = this.timing
    this.stops = [every(renewMs, () => this.renewal()), every(renewMs, () => this.check())]
    // Apart from the renewal: a renewal waiting on a Redis that does not answer must not delay the fence.
    const watchdog = setInterval(() => this.fenced === null && this.lease.lapsed && this.fence(`no answer from Redis for ${this.timing.leaseMs} ms`), Math.min(250, renewMs))
    this.stops.push(() => clearInterval(watchdog))
    await this.check()
  }

  /** Stops the ticks; `clean` (its sessions have all left their rooms): and leaves the cluster now, unreaped. */
  async leave(clean: boolean): Promise<void> {
    for (const stop of this.stops.splice(0)) stop()
    if (!clean || this.fenced !== null) return
    await this.store.leave(this.nodeId)
  }

  /** The connection to Redis is back: leases may have expired meanwhile, so nobody is reaped until all could renew. */
  reconnected(): void {
    this.graceUntil = Date.now() + this.timing.keyTtlMs
  }

  record(sessionId: number, record: SessionRecord): void {
    this.store.recordSession(this.nodeId, sessionId, JSON.stringify(record)).catch(this.report)
  }

  forget(sessionId: number): void {
    this.store.forgetSession(this.nodeId, sessionId).catch(this.report)
  }

  private readonly report = (error: Error): void => this.hooks.repeated('registering a session failed', error.message)

  /** A guest number no other node hands out: from a block taken from Redis, so most connects need no round trip. */
  async guestNumber(): Promise<number> {
    while (this.guests.next >= this.guests.end) {
      this.guestBlock ??= this.store.takeGuestNumbers(GUEST_BLOCK).then(
        (end) => {
          this.guests = { next: end - GUEST_BLOCK + 1, end: end + 1 }
          this.guestBlock = null
        },
        (error: Error) => {
          // Refused (Redis out of memory, read-only...): the next connect asks again.
          this.guestBlock = null
          throw error
        }
      )
      await this.guestBlock
    }
    return this.guests.next++
  }

  private fence(reason: string): void {
    this.fenced = reason
    this.hooks.log(`stopped serving: ${reason}; its sessions are closed, and it rejoins once Redis answers`, true)
    this.hooks.fenced(reason)
  }

  /** Renews the lease, or, fenced, tries to rejoin; finds out if Redis lost the node's registration. */
  private async renewal(): Promise<void> {
    if (this.fenced !== null) return this.rejoin()
    const epoch = this.lease.epoch
    const beat: NodeBeat = { run: this.run, at: Date.now(), ...this.hooks.beat() }
    const renewal = await this.lease.renew(JSON.stringify(beat))
    if (renewal === 'renewed') {
      await this.store.renewNicks(this.hooks.heldNicks(), this.timing.nickTtlS).catch(() => {})
    }
    // Gone from Redis while this node cannot have let it lapse: Redis lost it, with its data.
    if (renewal === 'lost' && this.fenced === null && epoch === this.lease.epoch && !this.lease.lapsed) await this.restore()
  }

  private async restore(): Promise<void> {
    const restored = await this.lease.restore()
    if (restored === 'taken') return this.fence(`another run of node id ${this.nodeId} holds its lease`)
    // Redis kept its data, so the lease went some other way (evicted: the cluster needs --maxmemory-policy
    // noeviction; or deleted): another node may be reaping this one now.
    if (restored === 'not lost') return this.fence('its lease vanished from Redis (evicted? Redis must run with maxmemory-policy noeviction)')
    this.hooks.log('Redis no longer knew this node (its data was lost?): registering what it holds again', true)
    await this.hooks.restore()
    // The guest counter went with the data: numbers this node handed out must not be handed out again.
    await this.store.raiseGuestNumbers(this.guests.end)
  }

  /** Takes a new lease once Redis answers, after reaping what this node's fenced sessions left behind. */
  private async rejoin(): Promise<void> {
    await this.lease.acquire()
    if (!(await this.reapNode(this.nodeId, 'its lease lapsed'))) return
    this.fenced = null
    this.hooks.log(`rejoined the cluster (lease ${this.lease.epoch})`)
  }

  /** Reads every node's heartbeat (the cluster view) and reaps the nodes whose lease ran out. */
  private async check(): Promise<void> {
    if (this.fenced !== null) return
    try {
      const listed = await this.store.nodes()
      const mayReap = Date.now() >= this.graceUntil
      const now = Date.now()
      const nodes: ClusterNode[] = []
      const remote: RemoteSession[] = []
      for (const { id, lease, beat: beatJson } of listed) {
        if (lease === null) {
          if (id !== this.nodeId && mayReap) await this.reapNode(id, 'its lease ran out')
          continue
        }
        const beat = beatJson === null ? null : parseBeat(beatJson)
        if (beat === null) continue
        const { sessions, msgsInPerSec, msgsOutPerSec, listeners, at } = beat
        nodes.push({ id, self: id === this.nodeId, sessions, msgsInPerSec, msgsOutPerSec, listeners, seenAgoMs: Math.max(0, now - at) })
        if (id !== this.nodeId) remote.push(...(await this.sessionsOf(id)))
      }
      this.nodes = nodes
      this.remoteSessions = remote
    } catch (error) {
      // Redis is away: the view keeps its last state, and the next check tries again.
      this.hooks.log(`cluster check failed: ${(error as Error).message}`)
    }
  }

  private async sessionsOf(node: string): Promise<RemoteSession[]> {
    const sessions: RemoteSession[] = []
    for (const [id, json] of await this.store.someSessions(node, REMOTE_SESSIONS_SHOWN)) {
      const record = parseSessionRecord(json)
      if (record && sessions.length < REMOTE_SESSIONS_SHOWN) sessions.push({ node, id: Number(id), ...record })
    }
    return sessions
  }

  /**
   * One survivor (whoever takes the lock) takes a node's sessions out of their rooms and frees its nicks,
   * once its lease ran out (Redis refuses whatever it sends after); a node does the same for an earlier run
   * of itself. False if someone else is reaping it now.
   */
  private async reapNode(node: string, why: string): Promise<boolean> {
    const self = node === this.nodeId
    if (!(await this.store.takeReapLock(node, this.run, 4 * this.timing.keyTtlMs))) return false
    try {
      return await this.reapLocked(node, self, why)
    } finally {
      // Released on every path (FORGET_NODE deletes it too): a reap cut short must not delay a rejoin.
      await this.store.releaseReapLock(node, this.run).catch(() => {})
    }
  }

  private async reapLocked(node: string, self: boolean, why: string): Promise<boolean> {
    // Another survivor may have reaped it between our check and our lock, or it may have come back.
    if (!self && !(await this.store.awaitsReaping(node))) return true
    const records = await this.store.sessions(node)
    const orphans: OrphanSession[] = []
    for (const [id, json] of Object.entries(records)) {
      const record = parseSessionRecord(json)
      if (record) orphans.push({ node, id: Number(id), record })
      else this.hooks.log(`node ${node}: session record ${id} unreadable, skipped`, true)
    }
    // Nicks first: whoever hears a LEFT may take the leaver's nick at once.
    await Promise.all(orphans.map(({ id, record }) => this.store.releaseNick(record.nick, memberOf(node, id))))
    await this.hooks.reap(orphans)
    await this.store.forgetNode(node)
    if (self && orphans.length === 0) return true
    this.nodesReaped++
    this.hooks.log(`node ${node} reaped (${why}): ${orphans.length} sessions left their rooms`)
    return true
  }
}
