import { hostname } from 'node:os'
import type { ClusterConfig } from '../../../shared/contract'
import { NAME_PATTERN } from '../protocol/commands'

/** Why a cluster config cannot be used, or null if it can: the CLI and the host check with this one function. */
export function clusterConfigProblem({ redis, nodeId }: ClusterConfig): string | null {
  let url: URL
  try {
    url = new URL(redis)
  } catch {
    return `cluster address ${JSON.stringify(redis)} is not a URL: expected redis://host:port`
  }
  if (url.protocol !== 'redis:' || !url.hostname || !/^(\/[0-9]{0,2})?$/.test(url.pathname)) {
    return `cluster address ${JSON.stringify(redis)}: expected redis://host:port[/db]`
  }
  if (!NAME_PATTERN.test(nodeId)) return `node id ${JSON.stringify(nodeId)}: expected 1-32 characters A-Z a-z 0-9 _ -`
  return null
}

/** A node id when none is given: this machine and the first port, e.g. `box-7000`, unique for nodes on one machine. */
export function defaultNodeId(port: number): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 25) || 'node'
  return `${host}-${port}`
}
