import { Redis, ReplyError, type RedisOptions } from 'ioredis'
import type { RedisAccess } from './config'
import {
  ACQUIRE_LEASE,
  APPEND_FAREWELL,
  APPEND_MESSAGES,
  APPEND_PRESENCE,
  CLAIM_NICK,
  DELETE_IF,
  DROP_IF_EMPTY,
  FORGET_NODE,
  keys,
  RAISE_TO,
  REASSERT_NICK,
  RENEW_LEASE,
  TAKE_LOCK
} from './keys'
import type { StreamEntry } from './stream-reader'

/** Kicks a node's inbox keeps for it (MAXLEN ~). */
const INBOX_KEEP = 1000

// EVAL, not EVALSHA: a script missing from Redis's cache (after a restart, or SCRIPT FLUSH) is sent again by
// ioredis a round trip later, behind the room's next entries, out of its origin's order; readers would drop
// it as a duplicate. The scripts are short and presence is rare next to messages.

/** A change of a room's members, as APPEND_PRESENCE takes it; a farewell (APPEND_FAREWELL) goes through even out of memory. */
export interface Presence {
  op: 'set' | 'del'
  field: string
  nick: string
  farewell?: boolean
}

/** Who writes: a node, and the epoch of its lease that Redis checks the write against. */
export interface Writer {
  node: string
  epoch: string
}

/** A room's stream limits: its length, and how long it outlives its last member (s). */
export interface StreamLimits {
  maxLen: number
  emptyTtlS: number
}

/**
 * Every command a node sends its cluster's Redis, but the blocking reads (StreamReader): the one place that
 * knows the keys and scripts, and the one that would change for Redis Cluster (CLUSTER.md). The rest of the
 * cluster asks it for what it means (append, claim, renew, reap), never for a command.
 */
export class ClusterStore {
  constructor(readonly connection: Redis) {}

  // Rooms.

  /** See APPEND_MESSAGES. Resolves with the entry's ID. */
  appendMessages(room: string, writer: Writer, maxLen: number, fields: string[]): Promise<string> {
    return this.connection.eval(APPEND_MESSAGES, 2, keys.roomLog(room), keys.nodeLease(writer.node), maxLen, writer.epoch, ...fields) as Promise<string>
  }

  /** See APPEND_PRESENCE. Resolves with the entry's ID. */
  appendPresence(room: string, writer: Writer, limits: StreamLimits, presence: Presence, fields: string[]): Promise<string> {
    const script = presence.farewell ? APPEND_FAREWELL : APPEND_PRESENCE
    const { op, field, nick } = presence
    const args = [limits.maxLen, limits.emptyTtlS, op, field, nick, writer.epoch, ...fields]
    return this.connection.eval(script, 4, keys.roomLog(room), keys.roomMembers(room), keys.nodeLease(writer.node), keys.emptied, ...args) as Promise<string>
  }

  /**
   * A room's entries from `from` (an XRANGE start) to `to` (an XRANGE end: `(id` leaves id out), read with
   * the ID of the oldest entry its stream still keeps (null: no stream), in one step: what was trimmed
   * between the two reads would otherwise go unnoticed.
   */
  async entriesFrom(room: string, from: string, to: string): Promise<{ oldest: string | null; entries: StreamEntry[] }> {
    const key = keys.roomLog(room)
    const [first, range] = (await this.connection.multi().xrange(key, '-', '+', 'COUNT', 1).xrange(key, from, to).exec())!.map(([error, result]) => {
      if (error) throw error
      return result as StreamEntry[]
    })
    return { oldest: first[0]?.[0] ?? null, entries: range }
  }

  /** Up to `count` entries of a room's stream up to `to` (an XREVRANGE end), newest first. */
  latestEntries(room: string, to: string, count: number): Promise<StreamEntry[]> {
    return this.connection.xrevrange(keys.roomLog(room), to, '-', 'COUNT', count) as Promise<StreamEntry[]>
  }

  /** The nicks in a room, for WHO. */
  roomNicks(room: string): Promise<string[]> {
    return this.connection.hvals(keys.roomMembers(room))
  }

  /** Puts a member back in a room's member hash (Redis lost it with its data). */
  restoreMember(room: string, field: string, nick: string): Promise<unknown> {
    return this.connection.hset(keys.roomMembers(room), field, nick)
  }

  /** Drops the streams of the rooms emptied longest ago past `keep` (ZPOPMIN shares the work between nodes). */
  async dropEmptied(ttlS: number, keep: number): Promise<void> {
    // Those whose TTL ran out are gone already.
    await this.connection.zremrangebyscore(keys.emptied, '-inf', Math.floor(Date.now() / 1000) - ttlS)
    const excess = (await this.connection.zcard(keys.emptied)) - keep
    if (excess <= 0) return
    const popped = await this.connection.zpopmin(keys.emptied, excess)
    const logs = popped.filter((_, i) => i % 2 === 0)
    await Promise.all(logs.map((log) => this.connection.eval(DROP_IF_EMPTY, 2, log, keys.roomMembers(keys.roomOfLog(log)))))
  }

  // Nicks.

  /** See CLAIM_NICK: whether the nick is now the owner's. */
  async claimNick(nick: string, owner: string, ttlS: number, writer: Writer): Promise<boolean> {
    return (await this.connection.eval(CLAIM_NICK, 3, keys.nick(nick), keys.nodeLease(writer.node), keys.settling, owner, ttlS, writer.epoch)) === 1
  }

  /** See REASSERT_NICK: whether the nick is (again) the owner's. */
  async reassertNick(nick: string, owner: string, ttlS: number): Promise<boolean> {
    return (await this.connection.eval(REASSERT_NICK, 1, keys.nick(nick), owner, ttlS)) === 1
  }

  /** Frees a nick, if the owner still holds it. */
  releaseNick(nick: string, owner: string): Promise<unknown> {
    return this.deleteIf(keys.nick(nick), owner)
  }

  renewNicks(nicks: Iterable<string>, ttlS: number): Promise<unknown> {
    const batch = this.connection.pipeline()
    for (const nick of nicks) batch.expire(keys.nick(nick), ttlS)
    return batch.exec()
  }

  // Nodes.

  /** See ACQUIRE_LEASE: the data set's generation, 0 (another run holds it) or -1 (not lost). */
  acquireLease(node: string, epoch: string, runPrefix: string, ttlMs: number, knownGeneration: string, newGeneration: string, settleMs: number, mode: 'join' | 'restore'): Promise<string | 0 | -1> {
    const args = [epoch, ttlMs, runPrefix, node, knownGeneration, newGeneration, settleMs, mode]
    return this.connection.eval(ACQUIRE_LEASE, 4, keys.nodeLease(node), keys.nodes, keys.generation, keys.settling, ...args) as Promise<string | 0 | -1>
  }

  /** See RENEW_LEASE: whether the epoch still held the lease (renewed, with the heartbeat). */
  async renewLease(node: string, epoch: string, ttlMs: number, beat: string): Promise<boolean> {
    return (await this.connection.eval(RENEW_LEASE, 2, keys.nodeLease(node), keys.nodeBeat(node), epoch, ttlMs, beat)) === 1
  }

  /** Leaves the cluster for good: the node's records, heartbeat, lease and listing. */
  leave(node: string): Promise<unknown> {
    return this.connection.multi().del(keys.nodeSessions(node), keys.nodeBeat(node), keys.nodeLease(node)).srem(keys.nodes, node).exec()
  }

  recordSession(node: string, sessionId: number, record: string): Promise<unknown> {
    return this.connection.hset(keys.nodeSessions(node), String(sessionId), record)
  }

  forgetSession(node: string, sessionId: number): Promise<unknown> {
    return this.connection.hdel(keys.nodeSessions(node), String(sessionId))
  }

  /** The last of a block of `size` guest numbers nobody else will hand out. */
  takeGuestNumbers(size: number): Promise<number> {
    return this.connection.incrby(keys.guestSeq, size)
  }

  /** Raises the guest counter to at least `to` (Redis lost it, with the numbers handed out). */
  raiseGuestNumbers(to: number): Promise<unknown> {
    return this.connection.eval(RAISE_TO, 1, keys.guestSeq, to)
  }

  /** Every listed node, sorted, with its lease (null: ran out) and heartbeat. */
  async nodes(): Promise<{ id: string; lease: string | null; beat: string | null }[]> {
    const ids = (await this.connection.smembers(keys.nodes)).sort()
    if (ids.length === 0) return []
    const [leases, beats] = await Promise.all([this.connection.mget(...ids.map(keys.nodeLease)), this.connection.mget(...ids.map(keys.nodeBeat))])
    return ids.map((id, i) => ({ id, lease: leases[i], beat: beats[i] }))
  }

  /** Up to about `count` of a node's session records, [id, record] (a sample for the view). */
  async someSessions(node: string, count: number): Promise<[string, string][]> {
    const [, flat] = await this.connection.hscan(keys.nodeSessions(node), 0, 'COUNT', count)
    const pairs: [string, string][] = []
    for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i], flat[i + 1]])
    return pairs
  }

  /** All of a node's session records, by id. */
  sessions(node: string): Promise<Record<string, string>> {
    return this.connection.hgetall(keys.nodeSessions(node))
  }

  /** Whether a node is still listed with no lease: dead, and not yet reaped. */
  async awaitsReaping(node: string): Promise<boolean> {
    return (await this.connection.sismember(keys.nodes, node)) === 1 && (await this.connection.exists(keys.nodeLease(node))) === 0
  }

  /** Whether a node holds a lease: alive. */
  async alive(node: string): Promise<boolean> {
    return (await this.connection.exists(keys.nodeLease(node))) === 1
  }

  /** See TAKE_LOCK: whether `owner` now reaps `node`. */
  async takeReapLock(node: string, owner: string, ms: number): Promise<boolean> {
    return (await this.connection.eval(TAKE_LOCK, 1, keys.reapLock(node), owner, ms)) === 1
  }

  releaseReapLock(node: string, owner: string): Promise<unknown> {
    return this.deleteIf(keys.reapLock(node), owner)
  }

  /** See FORGET_NODE. */
  forgetNode(node: string): Promise<unknown> {
    return this.connection.eval(FORGET_NODE, 4, keys.nodeSessions(node), keys.reapLock(node), keys.nodes, keys.nodeLease(node), node)
  }

  /** Where a node's inbox ends now: it reads what comes after. */
  async inboxEnd(node: string): Promise<string> {
    const [last] = await this.connection.xrevrange(keys.nodeInbox(node), '+', '-', 'COUNT', 1)
    return last?.[0] ?? '0-0'
  }

  /** Asks a node to kick one of its sessions; false if that node is not alive. */
  async kick(node: string, sessionId: number, reason: string): Promise<boolean> {
    if (!(await this.alive(node))) return false
    await this.connection.xadd(keys.nodeInbox(node), 'MAXLEN', '~', INBOX_KEEP, '*', 'kick', String(sessionId), 'reason', reason)
    return true
  }

  private deleteIf(key: string, value: string): Promise<unknown> {
    return this.connection.eval(DELETE_IF, 1, key, value)
  }
}

/**
 * Redis's own refusals, as opposed to a fault of ours (a script error, a wrong type): a state of Redis that
 * passes. FENCED and TRYAGAIN come from our scripts: the node lost its lease, the nodes re-register.
 */
const REFUSAL = /^(OOM|MISCONF|READONLY|LOADING|BUSY|MASTERDOWN|NOREPLICAS|CLUSTERDOWN|TRYAGAIN|FENCED)\b/

/** What ioredis says of a command Redis did not answer within the connection's commandTimeout. */
const TIMED_OUT = 'Command timed out'

/**
 * Why Redis refused a command, in its own words (first sentence), when it was Redis refusing or not
 * answering in time; else null (a fault of ours).
 */
export function refusalOf(error: unknown): string | null {
  if (error instanceof Error && error.message === TIMED_OUT) return 'no answer in time'
  if (!(error instanceof ReplyError)) return null
  const message = (error as Error).message
  return REFUSAL.test(message) ? message.split(/(?<=\.)\s|\n/)[0].slice(0, 160) : null
}

/** Node's codes for a certificate it could not trust. */
const UNTRUSTED = /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|CERT_UNTRUSTED)$/

/**
 * Why a node could not get into its Redis, in one line of our own that names the cause: Redis's WRONGPASS
 * does not say "authentication", nor does Node's certificate error say "Redis".
 */
export function whyRedisRefused(address: string, error: { message: string; code?: string }): string {
  const { message, code = '' } = error
  if (/^WRONGPASS|invalid password|invalid username-password/i.test(message)) {
    return `Redis authentication failed at ${address}: wrong user or password (Redis said: ${message})`
  }
  if (/^NOAUTH/.test(message)) return `Redis authentication failed at ${address}: it wants a password (redis://user:password@host:port)`
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `Redis's TLS certificate at ${address} is for another name (${message})`
  if (UNTRUSTED.test(code)) return `Redis's TLS certificate at ${address} is not trusted (${message}): give its CA with --redis-ca FILE or NODE_EXTRA_CA_CERTS`
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/i.test(message)) {
    return `Redis at ${address} does not speak TLS there: is it a plaintext port (redis://)?`
  }
  return `cannot reach Redis at ${address}: ${message}`
}

/** A command whose answer nobody waits for: a refusal is reported, never left as an unhandled rejection. */
export function unawaited(command: Promise<unknown>, report: (error: Error) => void): void {
  command.catch(report)
}

/**
 * A connection to the cluster's Redis. Commands wait through a reconnect (maxRetriesPerRequest: null) and
 * the ones Redis may not have answered are sent again: a room's readers drop what that doubles (SeqGuard).
 * `reader`: the stream reader's own connection, whose blocked XREAD must not be resent with stale IDs on
 * reconnect (the reader reissues it from where it is). Every command fails after `timeoutMs` without an
 * answer (a link that drops packets never closes): by then the node's lease has lapsed too.
 */
export function connectRedis(url: string, role: 'commands' | 'reader', timeoutMs: number, access: RedisAccess | null): Redis {
  const options: RedisOptions = {
    username: access?.username,
    password: access?.password,
    // rediss:// alone would make ioredis trust the system's CAs; a private CA is added here.
    tls: url.startsWith('rediss:') ? { ca: access?.ca } : undefined,
    lazyConnect: true,
    maxRetriesPerRequest: null,
    commandTimeout: timeoutMs,
    connectTimeout: timeoutMs,
    connectionName: `switchboard-${role}`,
    // Back off to once a second: a restarting Redis is back within seconds, and nobody waits on a 30 s gap.
    retryStrategy: (attempt) => Math.min(attempt * 50, 1000),
    enableAutoPipelining: role === 'commands',
    autoResendUnfulfilledCommands: role === 'commands'
  }
  const redis = new Redis(url, options)
  // ioredis hears a socket's first error only (once). A TLS handshake that fails can raise a second, the peer's
  // alert after our refusal of its certificate, which nobody would hear: it would take the process down.
  redis.on('error', () => {
    const stream = redis.stream as Redis['stream'] | undefined
    if (stream && stream.listenerCount('error') === 0) stream.on('error', () => {})
  })
  return redis
}
