import { hostname } from 'node:os'
import { NAME_PATTERN } from '../protocol/commands'

/**
 * `redis://host:port[/db]`, nothing more: credentials would travel to every window with the server's
 * config, and a bracketed IPv6 address is the only way a colon can be part of the host.
 */
const REDIS_URL = /^redis:\/\/([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]):(\d{1,5})(?:\/(\d{1,4}))?$/

export function isRedisUrl(text: string): boolean {
  const match = REDIS_URL.exec(text)
  return match !== null && Number(match[2]) >= 1 && Number(match[2]) <= 65535
}

/** A node id names Redis keys and shows in the control room: the line protocol's name rule. */
export const isNodeId = (text: string): boolean => NAME_PATTERN.test(text)

/** A node id when none is given: this machine and the first port, e.g. `box-7000`, unique for nodes on one machine. */
export function defaultNodeId(port: number): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 25) || 'node'
  return `${host}-${port}`
}
