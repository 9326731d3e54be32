import { useDeferredValue, useMemo, useState } from 'react'
import type { LogKind } from '../../../shared/telemetry'
import { useAppStore } from '../context'
import { formatTime } from '../format'

const KINDS: LogKind[] = ['listen', 'connect', 'disconnect', 'refuse', 'error', 'kick', 'pressure', 'limit', 'shutdown', 'cluster']
/** Rows rendered at once; the store keeps more, the filter reaches all of them. */
const SHOWN = 300

export function EventLog() {
  const log = useAppStore((s) => s.log)
  const [kind, setKind] = useState<LogKind | 'all'>('all')
  const [text, setText] = useState('')
  // Typing in the filter stays responsive while thousands of events are filtered behind it.
  const deferredLog = useDeferredValue(log)
  const shown = useMemo(() => {
    const needle = text.trim().toLowerCase()
    const kept = deferredLog.filter((e) => (kind === 'all' || e.kind === kind) && (!needle || e.text.toLowerCase().includes(needle)))
    return kept.slice(-SHOWN).reverse()
  }, [deferredLog, kind, text])

  return (
    <section className="card event-log" aria-label="event log">
      <header>
        <h2>Event log</h2>
        <select aria-label="event kind" value={kind} onChange={(e) => setKind(e.target.value as LogKind | 'all')}>
          <option value="all">all</option>
          {KINDS.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        <input type="search" placeholder="filter text" value={text} onChange={(e) => setText(e.target.value)} aria-label="filter events" />
      </header>
      <ol className="log-lines">
        {shown.map((e, i) => (
          <li key={`${e.at}-${i}`} className={`log-${e.kind}`}>
            <time>{formatTime(e.at)}</time> <span className="kind">{e.kind}</span> {e.text}
          </li>
        ))}
      </ol>
    </section>
  )
}
