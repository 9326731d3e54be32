import { useVirtualizer } from '@tanstack/react-virtual'
import { useMemo, useRef, useState } from 'react'
import type { SessionMetrics } from '../../../shared/telemetry'
import { useApi, useAppStore } from '../context'
import { formatBytes, formatCount, formatDuration } from '../format'

type Column = { key: keyof SessionMetrics | 'age'; label: string; numeric?: boolean }

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

function sortValue(row: SessionMetrics, key: Column['key']): number | string {
  if (key === 'age') return -row.connectedAt
  return row[key] ?? ''
}

function cell(row: SessionMetrics, key: Column['key'], now: number): string {
  switch (key) {
    case 'age':
      return formatDuration(now - row.connectedAt)
    case 'bytesIn':
    case 'bytesOut':
    case 'queuedBytes':
      return formatBytes(row[key])
    case 'msgsIn':
    case 'msgsOut':
    case 'rateLimited':
      return formatCount(row[key])
    default:
      return String(row[key] ?? '–')
  }
}

/** Every live session, sortable and filterable; only the rows in view are in the DOM, so 10,000 stay smooth. */
export function SessionsTable() {
  const api = useApi()
  const snapshot = useAppStore((s) => s.latest)
  const [filter, setFilter] = useState('')
  const [sort, setSort] = useState<{ key: Column['key']; descending: boolean }>({ key: 'id', descending: false })
  const scroller = useRef<HTMLDivElement>(null)

  const rows = useMemo(() => {
    const all = snapshot?.sessions ?? []
    const needle = filter.trim().toLowerCase()
    const kept = needle
      ? all.filter((r) => `${r.id} ${r.nick ?? ''} ${r.room ?? ''} ${r.remote} ${r.listener}`.toLowerCase().includes(needle))
      : all.slice()
    const direction = sort.descending ? -1 : 1
    return kept.sort((a, b) => {
      const x = sortValue(a, sort.key)
      const y = sortValue(b, sort.key)
      return (x < y ? -1 : x > y ? 1 : 0) * direction
    })
  }, [snapshot, filter, sort])

  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
    initialRect: { width: 1000, height: 400 }
  })
  const now = snapshot?.at ?? Date.now()

  return (
    <section className="card sessions" aria-label="sessions">
      <header>
        <h2>Sessions</h2>
        <span className="muted" data-testid="session-count">
          {rows.length === (snapshot?.sessions.length ?? 0) ? rows.length : `${rows.length} of ${snapshot?.sessions.length}`}
        </span>
        <input type="search" placeholder="filter: id, nick, room, address" value={filter} onChange={(e) => setFilter(e.target.value)} aria-label="filter sessions" />
      </header>
      <div className="table-head" role="row">
        {COLUMNS.map((column) => (
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
                key={row.id}
                role="row"
                data-session={row.id}
                className="table-row"
                style={{ position: 'absolute', top: 0, transform: `translateY(${item.start}px)`, height: ROW_HEIGHT }}
              >
                {COLUMNS.map((column) => (
                  <span key={column.key} role="cell" className={`col col-${column.key}${column.numeric ? ' numeric' : ''}`}>
                    {cell(row, column.key, now)}
                  </span>
                ))}
                <span className="col col-action">
                  <button type="button" className="ghost danger" onClick={() => api.kickSession(row.id)}>
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
