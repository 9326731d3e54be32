import type { ReactNode } from 'react'
import { formatTarget, type LoadReport, type StormReport } from '../../../shared/load'
import { formatCount, formatMs } from '../format'

interface Row {
  label: string
  value: (run: LoadReport) => ReactNode
  /** Only while some run in the table resumed: runs that did not would fill the row with dashes. */
  resume?: true
}

/** A figure of a run's reconnections; '–' for a run whose clients did not resume. */
const ofStorm = (figure: (storm: StormReport) => ReactNode) => (run: LoadReport) => (run.storm ? figure(run.storm) : '–')

const ROWS: Row[] = [
  { label: 'target', value: (run) => run.config.targets.map(formatTarget).join(', ') },
  { label: 'codec', value: (run) => run.config.codec },
  { label: 'clients', value: (run) => formatCount(run.config.clients) },
  {
    label: 'mode',
    value: (run) => (run.config.mode === 'closed' ? `closed, window ${run.config.window}` : `open, ${run.config.rate}/s each`)
  },
  { label: 'deliveries/s', value: (run) => formatCount(run.deliveriesPerSec) },
  { label: 'latency p99', value: (run) => (run.latencyMs.count === 0 ? '–' : formatMs(run.latencyMs.p99)) },
  { label: 'complete', value: (run) => (run.complete ? 'yes' : <span className="error">no</span>) },
  { label: 'resumed / lost', resume: true, value: ofStorm((s) => `${formatCount(s.resumed)} / ${formatCount(s.lost)}`) },
  { label: 'recover p99', resume: true, value: ofStorm((s) => (s.recoverMs.count === 0 ? '–' : formatMs(s.recoverMs.p99))) },
  { label: 'duplicates', resume: true, value: ofStorm((s) => (s.duplicates > 0 ? <span className="error">{formatCount(s.duplicates)}</span> : '0')) }
]

/** Runs side by side, one column each, newest on the right, so a change of one knob reads across a row. */
export function LoadRuns({ runs }: { runs: LoadReport[] }) {
  const rows = runs.some((run) => run.storm) ? ROWS : ROWS.filter((row) => !row.resume)
  return (
    <div className="load-runs">
      <h3>Runs side by side</h3>
      <table aria-label="earlier runs">
        <thead>
          <tr>
            <th scope="col">run</th>
            {runs.map((run) => (
              <th key={run.runId} scope="col" data-run={run.runId}>
                #{run.runId}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.label}>
              <th scope="row">{row.label}</th>
              {runs.map((run) => (
                <td key={run.runId} className="numeric">
                  {row.value(run)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
