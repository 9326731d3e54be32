import { Redis, ReplyError, type RedisOptions } from 'ioredis'
import { APPEND_FAREWELL, APPEND_PRESENCE, DELETE_IF, RAISE_TO } from './keys'

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

/** See APPEND_PRESENCE: resolves with the new entry's ID. `limits`: the stream's length, an emptied room's TTL. */
export function appendPresence(redis: Redis, log: string, members: string, limits: { maxLen: number; emptyTtlS: number }, presence: Presence, fields: string[]): Promise<string> {
  const script = presence.farewell ? APPEND_FAREWELL : APPEND_PRESENCE
  return redis.eval(script, 2, log, members, limits.maxLen, limits.emptyTtlS, presence.op, presence.field, presence.nick, ...fields) as Promise<string>
}

export function deleteIf(redis: Redis, key: string, value: string): Promise<number> {
  return redis.eval(DELETE_IF, 1, key, value) as Promise<number>
}

export function raiseTo(redis: Redis, key: string, value: number): Promise<unknown> {
  return redis.eval(RAISE_TO, 1, key, value)
}

/** Redis's own refusals, as opposed to a fault of ours (a script error, a wrong type): a state of Redis that passes. */
const REFUSAL = /^(OOM|MISCONF|READONLY|LOADING|BUSY|MASTERDOWN|NOREPLICAS|CLUSTERDOWN|TRYAGAIN)\b/

/** Why Redis refused a command, in its own words (first sentence), when it was Redis refusing; else null. */
export function refusalOf(error: unknown): string | null {
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
 * reconnect (the reader reissues it from where it is).
 */
export function connectRedis(url: string, role: 'commands' | 'reader'): Redis {
  const options: RedisOptions = {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    connectionName: `switchboard-${role}`,
    // Back off to once a second: a restarting Redis is back within seconds, and nobody waits on a 30 s gap.
    retryStrategy: (attempt) => Math.min(attempt * 50, 1000),
    enableAutoPipelining: role === 'commands',
    autoResendUnfulfilledCommands: role === 'commands'
  }
  return new Redis(url, options)
}
