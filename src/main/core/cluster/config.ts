import { hostname } from 'node:os'
import { NAME_PATTERN } from '../protocol/commands'

/**
 * A Redis address: `redis://host:port[/db]`, or `rediss://` over TLS; nothing more. Credentials would travel
 * to every window with the server's config: they are split off where the operator gives them (RedisAccess).
 * A bracketed IPv6 address is the only way a colon can be part of the host.
 */
const REDIS_URL = /^rediss?:\/\/([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]):(\d{1,5})(?:\/(\d{1,4}))?$/

export function isRedisUrl(text: string): boolean {
  const match = REDIS_URL.exec(text)
  return match !== null && Number(match[2]) >= 1 && Number(match[2]) <= 65535
}

/** What a node needs besides the address to be let in by its Redis: never shown, never kept. */
export interface RedisAccess {
  /** The address these are for (no credentials in it): another Redis gets none of them. */
  address: string
  username?: string
  password?: string
  /** The CA (PEM) a `rediss://` Redis's certificate is checked against; without it, the system's (and NODE_EXTRA_CA_CERTS). */
  ca?: Buffer
}

/**
 * Splits `redis[s]://[user[:password]@]host:port[/db]` into the address everyone may see and the credentials
 * only the connection gets; throws, without repeating the text (it may hold a password), if it is not one.
 */
export function splitRedisUrl(text: string): RedisAccess {
  const at = text.lastIndexOf('@')
  const scheme = /^rediss?:\/\//.exec(text)?.[0]
  if (!scheme) throw new Error('a Redis URL is redis://host:port or rediss://host:port (TLS), with user:password@ before the host if Redis wants them')
  if (at === -1) {
    if (!isRedisUrl(text)) throw new Error(`${text} is not redis[s]://host:port[/db]`)
    return { address: text }
  }
  const address = scheme + text.slice(at + 1)
  if (!isRedisUrl(address)) throw new Error(`${address} is not redis[s]://host:port[/db]`)
  const credentials = text.slice(scheme.length, at)
  const colon = credentials.indexOf(':')
  const [username, password] = colon === -1 ? [credentials, ''] : [credentials.slice(0, colon), credentials.slice(colon + 1)]
  const access: RedisAccess = { address }
  // As in Redis's own URLs: `redis://:password@` is the default user's password (requirepass).
  if (username) access.username = decodeURIComponent(username)
  if (password) access.password = decodeURIComponent(password)
  return access
}

/** A node id names Redis keys and shows in the control room: the line protocol's name rule. */
export const isNodeId = (text: string): boolean => NAME_PATTERN.test(text)

/** A node id when none is given: this machine and the first port, e.g. `box-7000`, unique for nodes on one machine. */
export function defaultNodeId(port: number): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 25) || 'node'
  return `${host}-${port}`
}
