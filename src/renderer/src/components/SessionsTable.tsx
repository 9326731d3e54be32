import { useVirtualizer } from '@tanstack/react-virtual'
import { useMemo, useRef, useState } from 'react'
import type { MetricsSnapshot, SessionMetrics } from '../../../shared/telemetry'
import { useApi, useAppStore } from '../context'
import { formatBytes, formatCount, formatDuration } from '../format'

type Counter = 'bytesIn' | 'bytesOut' | 'msgsIn' | 'msgsOut' | 'queuedBytes' | 'rateLimited'

/**
 * A session of this server, or of another node of the cluster as that node registered it in Redis
 * (`remoteNode`): those have no codec or traffic counters here, which stay on their node.
 */
type Row = Omit<SessionMetrics, Counter | 'codec'> &
  Partial<Pick<SessionMetrics, Counter | 'codec'>> & {
    /** Null without a cluster. */
    node: string | null
    remoteNode: boolean
  }

type Column = { key: Exclude<keyof Row, 'remoteNode'> | 'age'; label: string; numeric?: boolean }

const NODE_COLUMN: Column = { key: 'node', label: 'node' }
/** A cluster's nodes may share ports and codecs: the listener's name says which of this node's, and a remote's codec. */
const LISTENER_COLUMN: Column = { key: 'listener', label: 'listener' }

const COLUMNS: Column[] = [
  { key: 'id', label: 'id', numeric: true },
  { key: 'nick', label: 'nick' },
  { key: 'room', label: 'room' },
  { key: 'remote', label: 'remote' },
  { key: 'codec', label: 'codec' },
  { key: 'age', label: 'age', numeric: true },
  { key: 'msgsIn', label: 'msgs in', numeric: true },
  { key: 'msgsOut', label: 'msgs out', numeric: true },
  { key: 'bytesIn', label: 'bytes in', numeric: true },
  { key: 'bytesOut', label: 'bytes out', numeric: true },
  { key: 'queuedBytes', label: 'queued', numeric: true },
  { key: 'rateLimited', label: 'rate-dropped', numeric: true }
]

const ROW_HEIGHT = 28

/** With a cluster: the node column after the id, and the listener in place of the codec. */
function columnsFor(clustered: boolean): Column[] {
  if (!clustered) return COLUMNS
  return COLUMNS.flatMap((column) => (column.key === 'id' ? [column, NODE_COLUMN] : column.key === 'codec' ? [LISTENER_COLUMN] : [column]))
}

function sortValue(row: Row, key: Column['key']): number | string {
  if (key === 'age') return -row.connectedAt
  // A remote session's missing counters sort below every real count.
  return row[key] ?? (key === 'node' || key === 'nick' || key === 'room' ? '' : -1)
}

function cell(row: Row, key: Column['key'], now: number): string {
  switch (key) {
    case 'age':
      return formatDuration(now - row.connectedAt)
    case 'bytesIn':
    case 'bytesOut':
    case 'queuedBytes':
      return row[key] === undefined ? '–' : formatBytes(row[key])
    case 'msgsIn':
    case 'msgsOut':
    case 'rateLimited':
      return row[key] === undefined ? '–' : formatCount(row[key])
    default:
      return String(row[key] ?? '–')
  }
}

/** This server's sessions, and with a cluster, every other node's (as far as Redis lists them). */
function allRows(snapshot: MetricsSnapshot | null): Row[] {
  if (!snapshot) return []
  const ownNode = snapshot.cluster?.nodeId ?? null
  const local: Row[] = snapshot.sessions.map((session) => ({ ...session, node: ownNode, remoteNode: false }))
  const remote: Row[] = (snapshot.cluster?.remoteSessions ?? []).map((session) => ({ ...session, remoteNode: true }))
  return local.concat(remote)
}

const rowKey = (row: Row) => (row.remoteNode ? `${row.node}:${row.id}` : String(row.id))

/** Every live session, sortable and filterable; only the rows in view are in the DOM, so 10,000 stay smooth. */
export function SessionsTable() {
  const api = useApi()
  const snapshot = useAppStore((s) => s.latest)
  const [filter, setFilter] = useState('')
  /** Why the last Kick did nothing: the session (or its node) was gone, or Redis refused. */
  const [kickProblem, setKickProblem] = useState<string | null>(null)
  const [sort, setSort] = useState<{ key: Column['key']; descending: boolean }>({ key: 'id', descending: false })
  const scroller = useRef<HTMLDivElement>(null)

  const clustered = Boolean(snapshot?.cluster)
  const columns = columnsFor(clustered)
  const all = useMemo(() => allRows(snapshot), [snapshot])
  // Redis lists a bounded sample of each other node's sessions; the nodes' heartbeats say how many there are.
  const clusterSessions = snapshot?.cluster?.nodes.reduce((sum, node) => sum + (node.self ? 0 : node.sessions), snapshot.sessions.length)

  const rows = useMemo(() => {
    const needle = filter.trim().toLowerCase()
    const kept = needle
      ? all.filter((r) => `${r.id} ${r.node ?? ''} ${r.nick ?? ''} ${r.room ?? ''} ${r.remote} ${r.listener}`.toLowerCase().includes(needle))
      : all.slice()
    const direction = sort.descending ? -1 : 1
    return kept.sort((a, b) => {
      const x = sortValue(a, sort.key)
      const y = sortValue(b, sort.key)
      return (x < y ? -1 : x > y ? 1 : 0) * direction
    })
  }, [all, filter, sort])

  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
    initialRect: { width: 1000, height: 400 }
  })
  const now = snapshot?.at ?? Date.now()

  const kick = (row: Row) => {
    setKickProblem(null)
    const whose = row.remoteNode ? `session ${row.id} of node ${row.node}` : `session ${row.id}`
    const asked = row.remoteNode ? api.kickSession(row.id, row.node!) : api.kickSession(row.id)
    asked.then(
      (kicked) => kicked || setKickProblem(`${whose} was not kicked: it is gone${row.remoteNode ? ', or its node is' : ''}`),
      (error: Error) => setKickProblem(`${whose} was not kicked: ${error.message}`)
    )
  }

  return (
    <section className="card sessions" aria-label="sessions">
      <header>
        <h2>Sessions</h2>
        <span className="muted" data-testid="session-count">
          {rows.length === all.length ? rows.length : `${rows.length} of ${all.length}`}
        </span>
        {clusterSessions !== undefined && clusterSessions > all.length && (
          <span className="muted" data-testid="cluster-session-count">
            of {clusterSessions} in the cluster
          </span>
        )}
        <input type="search" placeholder={clustered ? 'filter: id, node, nick, room, address' : 'filter: id, nick, room, address'} value={filter} onChange={(e) => setFilter(e.target.value)} aria-label="filter sessions" />
      </header>
      {kickProblem && (
        <p className="error" role="alert">
          {kickProblem}
        </p>
      )}
      <div className={`table-head${clustered ? ' clustered' : ''}`} role="row">
        {columns.map((column) => (
          <button
            key={column.key}
            type="button"
            role="columnheader"
            className={`col col-${column.key}${column.numeric ? ' numeric' : ''}`}
            aria-sort={sort.key === column.key ? (sort.descending ? 'descending' : 'ascending') : 'none'}
            onClick={() => setSort((s) => ({ key: column.key, descending: s.key === column.key ? !s.descending : false }))}
          >
            {column.label}
            {sort.key === column.key ? (sort.descending ? ' ▾' : ' ▴') : ''}
          </button>
        ))}
        <span className="col col-action" />
      </div>
      <div ref={scroller} className="table-body" role="table" aria-label="live sessions">
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
          {virtualizer.getVirtualItems().map((item) => {
            const row = rows[item.index]
            return (
              <div
                key={rowKey(row)}
                role="row"
                data-session={row.id}
                data-node={row.node ?? undefined}
                className={`table-row${clustered ? ' clustered' : ''}${row.remoteNode ? ' remote-node' : ''}`}
                style={{ position: 'absolute', top: 0, transform: `translateY(${item.start}px)`, height: ROW_HEIGHT }}
              >
                {columns.map((column) => (
                  <span key={column.key} role="cell" className={`col col-${column.key}${column.numeric ? ' numeric' : ''}`}>
                    {cell(row, column.key, now)}
                  </span>
                ))}
                <span className="col col-action">
                  <button
                    type="button"
                    className="ghost danger"
                    // Another node's session is kicked by that node: the host asks it through Redis.
                    onClick={() => kick(row)}
                  >
                    Kick
                  </button>
                </span>
              </div>
            )
          })}
        </div>
      </div>
    </section>
  )
}
