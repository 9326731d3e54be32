import type { BoundListener, ServerConfig } from '../../shared/contract'
import { formatTarget, type LoadConfig, type LoadTarget } from '../../shared/load'
import { isIP } from 'node:net'
import { canonicalHost, isLoopback } from '../core/net/address'

/**
 * What the pages may reach through the host beyond this server. Decided by whoever starts the process
 * (serve's --allow-remote and --allow-target, or the desktop shell), never by a page: in browser mode whoever
 * holds the page's token could otherwise open listeners to the network, or use the host to connect anywhere.
 */
export interface Reach {
  /** Listeners and a cluster's Redis beyond loopback, and load runs that allow remote targets. */
  allowRemote: boolean
  /**
   * Where window clients and load runs may connect besides this server's own listeners; 'any' for the
   * desktop app, whose only pages are its own, run by the person at the machine.
   */
  targets: LoadTarget[] | 'any'
  /**
   * The Redis a page may start a cluster node on: the operator's `serve --cluster` URL, or none. A Redis URL
   * of the page's choosing would have the host dial any port with commands and keys of the page's making.
   * Unchecked where `targets` is 'any'.
   */
  redis: string | null
}

/** Browser mode unless the operator widens it: loopback listeners, and connections to this server alone. */
export const OWN_SERVER_ONLY: Reach = { allowRemote: false, targets: [], redis: null }

/** The desktop app: its window is the operator's own console. */
export const OPERATOR_REACH: Reach = { allowRemote: true, targets: 'any', redis: null }

export class ReachError extends Error {}

const ALLOW_REMOTE = 'only the process may allow that (switchboard serve --allow-remote)'

/** Redis URLs are checked for shape (cluster/config.ts); this only needs their host. */
const redisHost = (url: string): string => new URL(url).hostname

export function checkServerReach(config: ServerConfig, reach: Reach): void {
  const redis = config.cluster?.redis
  if (redis !== undefined && reach.targets !== 'any' && redis !== reach.redis) {
    throw new ReachError(`Redis at ${redis} is not the one this process was started with: only the process names it (switchboard serve --cluster URL)`)
  }
  if (reach.allowRemote) return
  const remote = config.listeners.find((listener) => !isLoopback(listener.host))
  if (remote) throw new ReachError(`a listener on ${formatTarget(remote)} is beyond loopback: ${ALLOW_REMOTE}`)
  if (redis !== undefined && !isLoopback(redisHost(redis))) throw new ReachError(`Redis at ${redis} is beyond loopback: ${ALLOW_REMOTE}`)
}

/**
 * A listener answers a target of its port spelt as it was bound, or, bound to every interface, a loopback
 * address of its family (`::` takes IPv4 too). A name is matched only by the same name: `localhost` may not
 * resolve to the address the listener took, and a target must not reach some other service on the other one.
 */
export function answers(listener: BoundListener, target: LoadTarget): boolean {
  if (listener.port !== target.port) return false
  const host = canonicalHost(target.host)
  const bound = canonicalHost(listener.host)
  if (host === bound) return true
  const ipv4Loopback = isIP(host) === 4 && isLoopback(host)
  return (bound === '0.0.0.0' && ipv4Loopback) || (bound === '::' && (ipv4Loopback || host === '::1'))
}

/** Whether some target of a run is one of this server's own listeners. */
export const aimsAtOwn = (config: LoadConfig, own: BoundListener[]): boolean => config.targets.some((target) => own.some((listener) => answers(listener, target)))

const sameTarget = (a: LoadTarget, b: LoadTarget) => a.port === b.port && canonicalHost(a.host) === canonicalHost(b.host)

/** Refuses a target that is neither one of `own` listeners nor allowed; nothing is connected before this passes. */
export function checkTargetReach(target: LoadTarget, own: BoundListener[], reach: Reach): void {
  if (reach.targets === 'any') return
  if (own.some((listener) => answers(listener, target)) || reach.targets.some((allowed) => sameTarget(allowed, target))) return
  const ours = own.length > 0 ? own.map(formatTarget).join(', ') : 'none while it is stopped'
  throw new ReachError(
    `${formatTarget(target)} is not one of this server's listeners (${ours}); other targets need switchboard serve --allow-target ${formatTarget(target)}`
  )
}

export function checkLoadReach(config: LoadConfig, own: BoundListener[], reach: Reach): void {
  if (config.allowRemote && !reach.allowRemote) throw new ReachError(`a run that allows remote targets: ${ALLOW_REMOTE}`)
  for (const target of config.targets) checkTargetReach(target, own, reach)
}
