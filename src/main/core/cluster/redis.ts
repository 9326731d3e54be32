import { Redis, ReplyError, type RedisOptions } from 'ioredis'
import { APPEND_FAREWELL, APPEND_MESSAGES, APPEND_PRESENCE, CLAIM_NICK, DELETE_IF, keys, RAISE_TO, REASSERT_NICK } from './keys'

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

/** See APPEND_PRESENCE: resolves with the new entry's ID. */
export function appendPresence(redis: Redis, room: string, writer: Writer, limits: StreamLimits, presence: Presence, fields: string[]): Promise<string> {
  const script = presence.farewell ? APPEND_FAREWELL : APPEND_PRESENCE
  const { op, field, nick } = presence
  return redis.eval(script, 4, keys.roomLog(room), keys.roomMembers(room), keys.nodeLease(writer.node), keys.emptied, limits.maxLen, limits.emptyTtlS, op, field, nick, writer.epoch, ...fields) as Promise<string>
}

interface Pending {
  fields: string[]
  resolve(id: string): void
  reject(error: Error): void
}

/**
 * The messages a node appends in one turn, sent at its end as one APPEND_MESSAGES call per room: a busy
 * room's turn of messages costs one command, one script run and one reply, not one each. Anything else the
 * node writes that must come after them in Redis (a presence entry) flushes the batch first, so the
 * connection still carries every entry in the order it was made.
 */
export class MessageBatch {
  private readonly rooms = new Map<string, { writer: Writer; maxLen: number; pending: Pending[] }>()
  private scheduled = false

  constructor(private readonly redis: Redis) {}

  /** Resolves with the message's entry ID. */
  append(room: string, writer: Writer, maxLen: number, fields: string[]): Promise<string> {
    let batch = this.rooms.get(room)
    // A new lease epoch (the node rejoined): what was queued under the old one goes as it was.
    if (batch && batch.writer.epoch !== writer.epoch) {
      this.flush()
      batch = undefined
    }
    if (!batch) {
      batch = { writer, maxLen, pending: [] }
      this.rooms.set(room, batch)
    }
    batch.maxLen = Math.min(batch.maxLen, maxLen)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.flush())
    }
    const queue = batch.pending
    return new Promise<string>((resolve, reject) => queue.push({ fields, resolve, reject }))
  }

  /** Sends what is queued now. */
  flush(): void {
    this.scheduled = false
    for (const [room, { writer, maxLen, pending }] of this.rooms) {
      const args: (string | number)[] = [maxLen, writer.epoch]
      for (const { fields } of pending) args.push(fields.length, ...fields)
      ;(this.redis.eval(APPEND_MESSAGES, 2, keys.roomLog(room), keys.nodeLease(writer.node), ...args) as Promise<string[]>).then(
        (ids) => pending.forEach((message, i) => message.resolve(ids[i])),
        (error: Error) => pending.forEach((message) => message.reject(error))
      )
    }
    this.rooms.clear()
  }
}

/** See CLAIM_NICK: whether the nick is now the owner's. */
export async function claimNick(redis: Redis, nick: string, owner: string, ttlS: number, writer: Writer): Promise<boolean> {
  return (await redis.eval(CLAIM_NICK, 3, keys.nick(nick), keys.nodeLease(writer.node), keys.settling, owner, ttlS, writer.epoch)) === 1
}

/** See REASSERT_NICK: whether the nick is (again) the owner's. */
export async function reassertNick(redis: Redis, nick: string, owner: string, ttlS: number): Promise<boolean> {
  return (await redis.eval(REASSERT_NICK, 1, keys.nick(nick), owner, ttlS)) === 1
}

export function deleteIf(redis: Redis, key: string, value: string): Promise<number> {
  return redis.eval(DELETE_IF, 1, key, value) as Promise<number>
}

export function raiseTo(redis: Redis, key: string, value: number): Promise<unknown> {
  return redis.eval(RAISE_TO, 1, key, value)
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
export function connectRedis(url: string, role: 'commands' | 'reader', timeoutMs: number): Redis {
  const options: RedisOptions = {
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
  return new Redis(url, options)
}
