import type { Redis } from 'ioredis'
import type { ClusterNode, RemoteSession } from '../../../shared/telemetry'
import { keys, memberOf } from './keys'
import { deleteIf, raiseTo, unawaited } from './redis'

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
  /** Survivors reaped this node while it was cut off from Redis: its sessions are no longer in any room. */
  evicted(): void
  /** Redis lost this node's registration with its data: nobody reaped it, its sessions are to be registered again. */
  restore(): void
  log(text: string): void
}

const BEAT_MS = 1000
/** A node silent this long is dead. With CHECK_MS, survivors notice within BEAT_TTL_MS + CHECK_MS (7 s). */
const BEAT_TTL_MS = 5000
const CHECK_MS = 2000
/** Nicks outlive their node by this much at most; renewed every beat. */
export const NICK_TTL_S = 30
/** Sessions of another node listed in the control room: a sample, not a census of a 10,000-session node. */
const REMOTE_SESSIONS_SHOWN = 500
/** Guest numbers taken from Redis at a time: one round trip per this many connects. */
const GUEST_BLOCK = 1000

/**
 * The node's presence in the cluster: its heartbeat key (with a TTL, so a killed node's expires), its
 * session records, the renewal of its nicks, the survivors' watch for dead nodes, and the cluster view.
 */
export class NodeRegistry {
  private beatTimer: NodeJS.Timeout | null = null
  private checkTimer: NodeJS.Timeout | null = null
  private guests: { next: number; end: number } = { next: 0, end: 0 }
  private guestBlock: Promise<void> | null = null
  /** No node is reaped before this: after Redis comes back, every node gets a heartbeat's time to beat again. */
  private graceUntil = 0
  nodes: ClusterNode[] = []
  remoteSessions: RemoteSession[] = []
  nodesReaped = 0

  constructor(
    private readonly redis: Redis,
    readonly nodeId: string,
    private readonly run: string,
    private readonly hooks: RegistryHooks
  ) {}

  /** Claims the node id (refused while another live node holds it), and reaps what a killed run of this id left. */
  async join(): Promise<void> {
    const claimed = await this.redis.set(keys.nodeBeat(this.nodeId), this.beatJson(), 'PX', BEAT_TTL_MS, 'NX')
    if (claimed === null) throw new Error(`node id ${this.nodeId} is in use by a live node (or one killed under ${BEAT_TTL_MS / 1000} s ago)`)
    await this.reapNode(this.nodeId, 'a previous run of this node')
    // A mark a reaper left for a previous run of this id is not about this one.
    await this.redis.multi().sadd(keys.nodes, this.nodeId).del(keys.reaped(this.nodeId)).exec()
    this.beatTimer = setInterval(() => void this.beat(), BEAT_MS)
    this.checkTimer = setInterval(() => void this.check(), CHECK_MS)
    await this.check()
  }

  /** Stops the heartbeat; `clean` (its sessions have all left their rooms): and leaves the cluster now, unreaped. */
  async leave(clean: boolean): Promise<void> {
    if (this.beatTimer) clearInterval(this.beatTimer)
    if (this.checkTimer) clearInterval(this.checkTimer)
    if (!clean) return
    await this.redis.multi().del(keys.nodeSessions(this.nodeId), keys.nodeBeat(this.nodeId)).srem(keys.nodes, this.nodeId).exec()
  }

  /**
   * The connection to Redis is back. Heartbeats may have expired meanwhile (Redis down longer than their
   * TTL, or this node cut off): beat now, and reap nobody until the others have had the time to beat too.
   */
  reconnected(): void {
    this.graceUntil = Date.now() + BEAT_TTL_MS
    void this.beat()
  }

  record(sessionId: number, record: SessionRecord): void {
    unawaited(this.redis.hset(keys.nodeSessions(this.nodeId), String(sessionId), JSON.stringify(record)), this.report)
  }

  forget(sessionId: number): void {
    unawaited(this.redis.hdel(keys.nodeSessions(this.nodeId), String(sessionId)), this.report)
  }

  private readonly report = (error: Error): void => this.hooks.log(`registering a session failed: ${error.message}`)

  /** A guest number no other node hands out: from a block taken from Redis, so most connects need no round trip. */
  async guestNumber(): Promise<number> {
    while (this.guests.next >= this.guests.end) {
      this.guestBlock ??= this.redis.incrby(keys.guestSeq, GUEST_BLOCK).then(
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

  private beatJson(): string {
    const beat: NodeBeat = { run: this.run, at: Date.now(), ...this.hooks.beat() }
    return JSON.stringify(beat)
  }

  private async beat(): Promise<void> {
    const batch = this.redis.pipeline().set(keys.nodeBeat(this.nodeId), this.beatJson(), 'PX', BEAT_TTL_MS)
    for (const nick of this.hooks.heldNicks()) batch.expire(keys.nick(nick), NICK_TTL_S)
    await batch.exec().catch(() => {})
  }

  /** Reads every node's heartbeat (the cluster view) and reaps the nodes whose heartbeat has expired. */
  private async check(): Promise<void> {
    try {
      const ids = (await this.redis.smembers(keys.nodes)).sort()
      if (!ids.includes(this.nodeId) && this.checkTimer !== null) {
        // Reaped while alive (cut off from Redis longer than a heartbeat): the cluster has taken its sessions
        // out of their rooms, so they must go, and reconnect; the node itself serves on. Not reaped, just
        // forgotten (Redis lost its data): its sessions are registered again.
        if ((await this.redis.exists(keys.reaped(this.nodeId))) === 1) this.hooks.evicted()
        else {
          this.hooks.restore()
          // The guest counter went with the data: numbers this node handed out must not be handed out again.
          await raiseTo(this.redis, keys.guestSeq, this.guests.end)
        }
        await this.redis.multi().sadd(keys.nodes, this.nodeId).del(keys.reaped(this.nodeId)).exec()
      }
      const mayReap = Date.now() >= this.graceUntil
      const beats = ids.length > 0 ? await this.redis.mget(...ids.map(keys.nodeBeat)) : []
      const now = Date.now()
      const nodes: ClusterNode[] = []
      const remote: RemoteSession[] = []
      for (const [i, id] of ids.entries()) {
        const beat = beats[i]
        if (beat === null) {
          if (id !== this.nodeId && mayReap) await this.reapNode(id, 'its heartbeat stopped')
          continue
        }
        const { sessions, msgsInPerSec, msgsOutPerSec, listeners, at } = JSON.parse(beat) as NodeBeat
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
    const [, flat] = await this.redis.hscan(keys.nodeSessions(node), 0, 'COUNT', REMOTE_SESSIONS_SHOWN)
    const sessions: RemoteSession[] = []
    for (let i = 0; i + 1 < flat.length && sessions.length < REMOTE_SESSIONS_SHOWN; i += 2) {
      sessions.push({ node, id: Number(flat[i]), ...(JSON.parse(flat[i + 1]) as SessionRecord) })
    }
    return sessions
  }

  /** One survivor (whoever takes the lock) takes a dead node's sessions out of their rooms and frees its nicks. */
  private async reapNode(node: string, why: string): Promise<void> {
    const lock = await this.redis.set(keys.reapLock(node), this.run, 'PX', 30_000, 'NX')
    if (lock === null) return
    // Another survivor may have reaped it between our check and our lock.
    if (node !== this.nodeId && !(await this.redis.sismember(keys.nodes, node))) return void (await this.redis.del(keys.reapLock(node)))
    const records = await this.redis.hgetall(keys.nodeSessions(node))
    const orphans = Object.entries(records).map(([id, json]) => ({ node, id: Number(id), record: JSON.parse(json) as SessionRecord }))
    // Nicks first: whoever hears a LEFT may take the leaver's nick at once.
    await Promise.all(orphans.map(({ id, record }) => deleteIf(this.redis, keys.nick(record.nick), memberOf(node, id))))
    await this.hooks.reap(orphans)
    const cleanup = this.redis.multi().del(keys.nodeSessions(node), keys.reapLock(node))
    // Should it be alive after all (cut off, not dead), it finds this and closes its sessions.
    if (node !== this.nodeId) cleanup.srem(keys.nodes, node).set(keys.reaped(node), this.run, 'EX', 3600)
    await cleanup.exec()
    if (node === this.nodeId && orphans.length === 0) return
    this.nodesReaped++
    this.hooks.log(`node ${node} reaped (${why}): ${orphans.length} sessions left their rooms`)
  }
}
