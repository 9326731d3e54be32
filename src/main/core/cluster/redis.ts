import { Redis, type RedisOptions } from 'ioredis'
import { APPEND_PRESENCE, DELETE_IF, RAISE_TO } from './keys'

// EVAL, not EVALSHA: a script missing from Redis's cache (after a restart, or SCRIPT FLUSH) is sent again by
// ioredis a round trip later, behind the room's next entries, out of its origin's order; readers would drop
// it as a duplicate. The scripts are short and presence is rare next to messages.

/** See APPEND_PRESENCE: resolves with the new entry's ID. */
export function appendPresence(redis: Redis, log: string, members: string, maxLen: number, op: 'set' | 'del', field: string, nick: string, fields: string[]): Promise<string> {
  return redis.eval(APPEND_PRESENCE, 2, log, members, maxLen, op, field, nick, ...fields) as Promise<string>
}

export function deleteIf(redis: Redis, key: string, value: string): Promise<number> {
  return redis.eval(DELETE_IF, 1, key, value) as Promise<number>
}

export function raiseTo(redis: Redis, key: string, value: number): Promise<unknown> {
  return redis.eval(RAISE_TO, 1, key, value)
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
