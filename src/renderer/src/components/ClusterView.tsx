import type { ClusterMetrics } from '../../../shared/telemetry'
import { formatBytes, formatCount, formatDuration, formatMs } from '../format'

/** A room's delivery this far behind its stream is worth a look (a slow node, or Redis far away). */
const LAG_WARN_MS = 1000

/** The cluster as this node sees it: the nodes' heartbeats, the rooms it reads, and its stream counters. */
export function ClusterView({ cluster }: { cluster: ClusterMetrics }) {
  return (
    <section className="cluster" aria-label="cluster">
      <h3>Cluster</h3>
      <dl className="totals">
        <dt>node</dt>
        <dd data-testid="cluster-node">{cluster.nodeId}</dd>
        <dt>redis</dt>
        <dd>
          {cluster.redis}{' '}
          <span className={`badge ${cluster.redisReachable ? 'connected' : 'warn'}`} data-testid="cluster-redis">
            {cluster.redisReachable ? 'connected' : 'unreachable'}
          </span>
        </dd>
        {cluster.fenced !== null && (
          <>
            <dt>fenced</dt>
            <dd className="warn" data-testid="cluster-fenced">
              not serving: {cluster.fenced}; its sessions were closed, and it rejoins once Redis answers
            </dd>
          </>
        )}
      </dl>
      <table aria-label="cluster nodes">
        <thead>
          <tr>
            <th scope="col">node</th>
            <th scope="col">sessions</th>
            <th scope="col">in/s</th>
            <th scope="col">out/s</th>
            <th scope="col">seen</th>
          </tr>
        </thead>
        <tbody>
          {cluster.nodes.map((node) => (
            <tr key={node.id} data-node={node.id}>
              <th scope="row" title={node.listeners.join(', ')}>
                {node.id}
                {node.self && <span className="badge">this</span>}
              </th>
              <td className="numeric">{formatCount(node.sessions)}</td>
              <td className="numeric">{formatCount(node.msgsInPerSec)}</td>
              <td className="numeric">{formatCount(node.msgsOutPerSec)}</td>
              <td className="numeric">{formatDuration(node.seenAgoMs)} ago</td>
            </tr>
          ))}
        </tbody>
      </table>
      {cluster.rooms.length > 0 && (
        <table aria-label="cluster rooms">
          <thead>
            <tr>
              <th scope="col">room</th>
              <th scope="col">members here</th>
              <th scope="col">stream lag</th>
            </tr>
          </thead>
          <tbody>
            {cluster.rooms.map((room) => (
              <tr key={room.room} data-room={room.room}>
                <th scope="row">{room.room}</th>
                <td className="numeric">{formatCount(room.localMembers)}</td>
                <td className={`numeric${room.lagMs !== null && room.lagMs > LAG_WARN_MS ? ' warn' : ''}`}>{formatMs(room.lagMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <dl className="totals">
        <dt>appended</dt>
        <dd data-testid="cluster-appended">{formatCount(cluster.appended)}</dd>
        <dt>delivered</dt>
        <dd data-testid="cluster-delivered">{formatCount(cluster.delivered)}</dd>
        <dt>duplicates dropped</dt>
        <dd data-testid="cluster-duplicates">{formatCount(cluster.duplicatesDropped)}</dd>
        <dt>entries lost</dt>
        <dd data-testid="cluster-lost" className={cluster.entriesLost > 0 ? 'error' : undefined}>
          {formatCount(cluster.entriesLost)}
        </dd>
        <dt>nodes reaped</dt>
        <dd data-testid="cluster-reaped">{formatCount(cluster.nodesReaped)}</dd>
        <dt title="messages this node took that Redis has not answered yet, and those refused past the node's bound (--redis-backlog-mb)">backlog</dt>
        <dd data-testid="cluster-backlog" className={cluster.backlogRefused > 0 ? 'warn' : undefined}>
          {formatBytes(cluster.backlogBytes)} waiting on Redis, {formatCount(cluster.backlogRefused)} lines refused
        </dd>
      </dl>
    </section>
  )
}
