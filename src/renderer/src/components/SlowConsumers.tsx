import { useAppStore } from '../context'
import { formatTime } from '../format'
import { OutputPending } from './OutputPending'

/** Who is slow now (the most output pending) and who was dropped as slow, and why: which limit, with how much. */
export function SlowConsumers() {
  // The snapshot, not `?? []` in the selector: a new empty list at every read would re-render without end.
  const latest = useAppStore((s) => s.latest)
  const slowest = latest?.slowest ?? []
  const drops = latest?.slowDrops ?? []
  return (
    <div className="slow-consumers">
      <section aria-label="slowest sessions">
        <h3>Slowest now</h3>
        {slowest.length === 0 ? (
          <p className="muted">No session has output waiting.</p>
        ) : (
          <ol>
            {slowest.map((s) => (
              <li key={s.id} data-session={s.id}>
                #{s.id} {s.nick ?? s.codec} {s.remote} <OutputPending queuedBytes={s.queuedBytes} overSoftMs={s.overSoftMs} />
              </li>
            ))}
          </ol>
        )}
      </section>
      <section aria-label="dropped as slow">
        <h3>Dropped as slow</h3>
        {drops.length === 0 ? (
          <p className="muted">None since the server started.</p>
        ) : (
          <ol>
            {[...drops].reverse().map((d) => (
              <li key={`${d.at}-${d.id}`} data-session={d.id}>
                <time>{formatTime(d.at)}</time> #{d.id} {d.nick ?? ''} {d.remote} on {d.listener}: {d.reason}
              </li>
            ))}
          </ol>
        )}
      </section>
    </div>
  )
}
