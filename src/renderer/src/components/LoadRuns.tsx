import type { ReactNode } from 'react'
import { formatTarget, type LoadReport } from '../../../shared/load'
import { formatCount, formatMs } from '../format'

interface Row {
  label: string
  value: (run: LoadReport) => ReactNode
}

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
  { label: 'complete', value: (run) => (run.complete ? 'yes' : <span className="error">no</span>) }
]

/** Runs side by side, one column each, newest on the right, so a change of one knob reads across a row. */
export function LoadRuns({ runs }: { runs: LoadReport[] }) {
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
          {ROWS.map((row) => (
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
