import { useVirtualizer } from '@tanstack/react-virtual'
import { useEffect, useMemo, useRef, useState } from 'react'
import { DEFAULT_SESSION_QUERY, type RemoteSession, type SessionMetrics, type SessionSort } from '../../../shared/telemetry'
import { useApi, useAppStore } from '../context'
import { formatBytes, formatCount, formatDuration } from '../format'
import { OutputPending } from './OutputPending'
import { SlowConsumers } from './SlowConsumers'

type Counter = 'bytesIn' | 'bytesOut' | 'msgsIn' | 'msgsOut' | 'queuedBytes' | 'rateLimited' | 'msgsInPerSec' | 'idleMs' | 'overSoftMs'

/**
 * A session of this server (from the page the host sent), or of another node of the cluster as that node
 * registered it in Redis (`remoteNode`): those have no codec or traffic counters here, which stay on their node.
 */
type Row = Omit<SessionMetrics, Counter | 'codec'> &
  Partial<Pick<SessionMetrics, Counter | 'codec'>> & {
    /** Null without a cluster. */
    node: string | null
    remoteNode: boolean
  }

/** `sort`: the host sorts the page by it (most first); the other columns are as the host sent them. */
type Column = { key: Exclude<keyof Row, 'remoteNode' | 'overSoftMs'> | 'age'; label: string; numeric?: boolean; sort?: SessionSort }

const NODE_COLUMN: Column = { key: 'node', label: 'node' }
/** A cluster's nodes may share ports and codecs: the listener's name says which of this node's, and a remote's codec. */
const LISTENER_COLUMN: Column = { key: 'listener', label: 'listener' }

const COLUMNS: Column[] = [
  { key: 'id', label: 'id', numeric: true },
  { key: 'nick', label: 'nick' },
  { key: 'user', label: 'user' },
  { key: 'room', label: 'room' },
  { key: 'remote', label: 'remote' },
  { key: 'codec', label: 'codec' },
  { key: 'age', label: 'age', numeric: true, sort: 'age' },
  { key: 'idleMs', label: 'idle', numeric: true, sort: 'idle' },
  { key: 'msgsInPerSec', label: 'msgs/s', numeric: true, sort: 'rate' },
  { key: 'msgsIn', label: 'msgs in', numeric: true },
  { key: 'msgsOut', label: 'msgs out', numeric: true },
  { key: 'bytesOut', label: 'bytes out', numeric: true },
  { key: 'queuedBytes', label: 'output pending', numeric: true, sort: 'pending' },
  { key: 'rateLimited', label: 'rate-dropped', numeric: true }
]

const ROW_HEIGHT = 28

/** With a cluster: the node column after the id, and the listener in place of the codec. */
function columnsFor(clustered: boolean): Column[] {
  if (!clustered) return COLUMNS
  return COLUMNS.flatMap((column) => (column.key === 'id' ? [column, NODE_COLUMN] : column.key === 'codec' ? [LISTENER_COLUMN] : [column]))
}

function Cell({ row, column, now }: { row: Row; column: Column; now: number }) {
  const { key } = column
  switch (key) {
    case 'age':
      return <>{formatDuration(now - row.connectedAt)}</>
    case 'idleMs':
      return <>{row.idleMs === undefined ? '–' : formatDuration(row.idleMs)}</>
    case 'queuedBytes':
      return row.queuedBytes === undefined ? <>–</> : <OutputPending queuedBytes={row.queuedBytes} overSoftMs={row.overSoftMs ?? null} />
    case 'bytesIn':
    case 'bytesOut':
      return <>{row[key] === undefined ? '–' : formatBytes(row[key])}</>
    case 'msgsIn':
    case 'msgsOut':
    case 'rateLimited':
    case 'msgsInPerSec':
      return <>{row[key] === undefined ? '–' : formatCount(row[key])}</>
    default:
      return <>{String(row[key] ?? '–')}</>
  }
}

const rowKey = (row: Row) => (row.remoteNode ? `${row.node}:${row.id}` : String(row.id))

/** Another node's sessions, as far as Redis lists them, kept by the same filter the host applies to ours. */
function remoteRows(sessions: RemoteSession[], filter: string): Row[] {
  const needle = filter.trim().toLowerCase()
  return sessions
    .filter((s) => !needle || [s.node, s.nick, s.user ?? '', s.room ?? '', s.remote].some((text) => text.toLowerCase().includes(needle)))
    .map((session) => ({ ...session, remoteNode: true }))
}

/**
 * This server's sessions, a page at a time: the host sorts, filters and cuts them, so a viewer of 10,000 is
 * sent 100. With a cluster, the other nodes' sessions Redis lists follow the first page.
 */
export function SessionsTable() {
  const api = useApi()
  const page = useAppStore((s) => s.sessionPage)
  const cluster = useAppStore((s) => s.latest?.cluster ?? null)
  const now = useAppStore((s) => s.latest?.at) ?? Date.now()
  const [query, setQuery] = useState(DEFAULT_SESSION_QUERY)
  /** Why the last Kick did nothing: the session (or its node) was gone, or Redis refused. */
  const [kickProblem, setKickProblem] = useState<string | null>(null)
  const scroller = useRef<HTMLDivElement>(null)

  useEffect(() => {
    api.setSessionQuery(query).catch(() => {})
  }, [api, query])

  // Sessions left while this window looked at a later page: back to the last page there is.
  useEffect(() => {
    if (!page || page.query.offset === 0 || page.query.offset < page.matched) return
    const lastPage = Math.max(0, Math.floor((page.matched - 1) / page.query.limit) * page.query.limit)
    setQuery((q) => (q.offset === page.query.offset ? { ...q, offset: lastPage } : q))
  }, [page])

  const clustered = cluster !== null
  const columns = columnsFor(clustered)
  const remote = useMemo(() => remoteRows(cluster?.remoteSessions ?? [], query.filter), [cluster, query.filter])
  const rows = useMemo(() => {
    const ownNode = cluster?.nodeId ?? null
    const local: Row[] = (page?.rows ?? []).map((session) => ({ ...session, node: ownNode, remoteNode: false }))
    return query.offset === 0 ? local.concat(remote) : local
  }, [page, cluster, remote, query.offset])
  // Whatever page is shown: this node's sessions as the host counted them, and the other nodes' Redis listed.
  const matched = (page?.matched ?? 0) + remote.length
  const total = (page?.total ?? 0) + (cluster?.remoteSessions.length ?? 0)
  // Redis lists a bounded sample of each other node's sessions; the nodes' heartbeats say how many there are.
  const clusterSessions = cluster?.nodes.reduce((sum, node) => sum + (node.self ? 0 : node.sessions), page?.total ?? 0)
  const first = page && page.matched > 0 ? page.query.offset + 1 : 0
  const last = page ? page.query.offset + page.rows.length : 0

  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
    initialRect: { width: 1000, height: 400 }
  })

  const kick = (row: Row) => {
    setKickProblem(null)
    const whose = row.remoteNode ? `session ${row.id} of node ${row.node}` : `session ${row.id}`
    const asked = row.remoteNode ? api.kickSession(row.id, row.node!) : api.kickSession(row.id)
    asked.then(
      (kicked) => kicked || setKickProblem(`${whose} was not kicked: it is gone${row.remoteNode ? ', or its node is' : ''}`),
      (error: Error) => setKickProblem(`${whose} was not kicked: ${error.message}`)
    )
  }
  const turnPage = (pages: number) => setQuery((q) => ({ ...q, offset: Math.max(0, q.offset + pages * q.limit) }))

  return (
    <section className="card sessions" aria-label="sessions">
      <header>
        <h2>Sessions</h2>
        <span className="muted" data-testid="session-count">
          {matched === total ? total : `${matched} of ${total}`}
        </span>
        {clusterSessions !== undefined && clusterSessions > total && (
          <span className="muted" data-testid="cluster-session-count">
            of {clusterSessions} in the cluster
          </span>
        )}
        <input
          type="search"
          placeholder={clustered ? 'filter: node, nick, user, room, address' : 'filter: nick, user, room, address'}
          value={query.filter}
          onChange={(e) => setQuery((q) => ({ ...q, filter: e.target.value, offset: 0 }))}
          aria-label="filter sessions"
        />
        <span className="pager">
          <button type="button" className="ghost" disabled={query.offset === 0} onClick={() => turnPage(-1)} aria-label="previous page">
            ‹
          </button>
          <span className="muted" data-testid="page-rows">
            {first}–{last} of {page?.matched ?? 0}
          </span>
          <button type="button" className="ghost" disabled={!page || last >= page.matched} onClick={() => turnPage(1)} aria-label="next page">
            ›
          </button>
        </span>
      </header>
      {kickProblem && (
        <p className="error" role="alert">
          {kickProblem}
        </p>
      )}
      <div className={`table-head${clustered ? ' clustered' : ''}`} role="row">
        {columns.map((column) =>
          column.sort ? (
            <button
              key={column.key}
              type="button"
              role="columnheader"
              className={`col col-${column.key} numeric`}
              aria-sort={query.sort === column.sort ? 'descending' : 'none'}
              title="sorted by the server, most first"
              onClick={() => setQuery((q) => ({ ...q, sort: column.sort!, offset: 0 }))}
            >
              {column.label}
              {query.sort === column.sort ? ' ▾' : ''}
            </button>
          ) : (
            <span key={column.key} role="columnheader" className={`col col-${column.key}${column.numeric ? ' numeric' : ''}`}>
              {column.label}
            </span>
          )
        )}
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
                    <Cell row={row} column={column} now={now} />
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
      <SlowConsumers />
    </section>
  )
}
