import { Redis, type RedisOptions, type Result } from 'ioredis'
import { APPEND_PRESENCE, DELETE_IF } from './keys'

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** See APPEND_PRESENCE: resolves with the new entry's ID. */
    appendPresence(log: string, members: string, maxLen: number, op: 'set' | 'del', field: string, nick: string, ...fields: string[]): Result<string, Context>
    deleteIf(key: string, value: string): Result<number, Context>
  }
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
  const redis = new Redis(url, options)
  redis.defineCommand('appendPresence', { numberOfKeys: 2, lua: APPEND_PRESENCE })
  redis.defineCommand('deleteIf', { numberOfKeys: 1, lua: DELETE_IF })
  return redis
}
