import { describeOrder, describeStormMade, formatTarget, type LoadReport, type Percentiles, type StormReport } from '../../../shared/load'
import { formatBytes, formatCount, formatDuration, formatMs, formatPercent } from '../format'

const exact = (value: number): string => value.toLocaleString('en')

/** Short runs are the common case in a lab: whole seconds would show most of them as 0s. */
const runTime = (ms: number): string => (ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : formatDuration(ms))

/** A percentile of no samples is no value, not 0 ms. */
const percentile = (p: Percentiles, value: number): string => (p.count === 0 ? '–' : formatMs(value))

/** Saves the report as a file, as the browser saves downloads; nothing goes through the host. */
export function downloadReport(report: LoadReport): void {
  const blob = new Blob([JSON.stringify(report, null, 2)], { type: 'application/json' })
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = `switchboard-load-run-${report.runId}.json`
  link.click()
  // Revoked later, not at once: some browsers start reading the blob only after click() has returned.
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

/** A count that should be 0, in red when it is not. */
const shouldBeNone = (value: number) => (value > 0 ? <span className="error">{exact(value)}</span> : exact(value))

/** What resuming clients went through: the storm made, what their RESUMEs brought back, and what did not come back. */
function StormTotals({ storm }: { storm: StormReport }) {
  const { recoverMs } = storm
  return (
    <section className="load-storm" aria-label="reconnect storm">
      <h4>Reconnect storm</h4>
      <dl className="totals load-totals">
        <dt>storm</dt>
        <dd>{describeStormMade(storm)}</dd>
        <dt>resumed / lost</dt>
        <dd>
          {exact(storm.resumed)} / {exact(storm.lost)}
        </dd>
        <dt>unresumed</dt>
        <dd>{shouldBeNone(storm.unresumed)}</dd>
        <dt>recovered messages</dt>
        <dd>{exact(storm.recovered)}</dd>
        <dt title="Resumes answered ERR history-gone: those clients may have missed what the server no longer kept">gaps (history gone)</dt>
        <dd>{exact(storm.gaps)}</dd>
        <dt>duplicates</dt>
        <dd>{shouldBeNone(storm.duplicates)}</dd>
        <dt title="Messages in flight when their sender's connection went, which never came back to it">lost in flight</dt>
        <dd>{exact(storm.lostInFlight)}</dd>
        <dt>time to recover p50 / p99</dt>
        <dd>
          {percentile(recoverMs, recoverMs.p50)} / {percentile(recoverMs, recoverMs.p99)}
        </dd>
      </dl>
    </section>
  )
}

/** The final report of one run: did everything arrive, how fast, how long it took, what went wrong. */
export function LoadSummary({ report }: { report: LoadReport }) {
  const { config, latencyMs } = report
  const errors = Object.entries(report.errors).sort((a, b) => b[1] - a[1])
  return (
    <section className="load-summary" aria-label="run summary">
      <header>
        <h3>
          Run #{report.runId}: {config.clients} {config.codec} clients → {config.targets.map(formatTarget).join(', ')}
        </h3>
        <span className={`badge ${report.complete ? 'running' : 'warn'}`} data-testid="load-outcome">
          {report.complete ? 'complete' : 'incomplete'}
        </span>
        <button type="button" className="ghost" onClick={() => downloadReport(report)}>
          Export JSON
        </button>
      </header>
      {report.note && <p className="muted">{report.note}</p>}
      <dl className="totals load-totals">
        <dt>deliveries</dt>
        <dd data-testid="load-deliveries">
          {exact(report.deliveries)} / {exact(report.expected)}
          {report.shortfall > 0 && <span className="error"> ({exact(report.shortfall)} short)</span>}
        </dd>
        <dt>sent</dt>
        <dd>
          {exact(report.sent)} in {runTime(report.durationMs)}
        </dd>
        <dt>deliveries/s</dt>
        <dd>{formatCount(report.deliveriesPerSec)}</dd>
        <dt>msgs/s</dt>
        <dd>{formatCount(report.messagesPerSec)}</dd>
        <dt>bytes in/out per s</dt>
        <dd>
          {formatBytes(report.bytesInPerSec)} / {formatBytes(report.bytesOutPerSec)}
        </dd>
        <dt>latency p50 / p90 / p99</dt>
        <dd>
          {percentile(latencyMs, latencyMs.p50)} / {percentile(latencyMs, latencyMs.p90)} / {percentile(latencyMs, latencyMs.p99)}
        </dd>
        <dt>latency p99.9 / max</dt>
        <dd>
          {percentile(latencyMs, latencyMs.p999)} / {percentile(latencyMs, latencyMs.max)}
        </dd>
        <dt>connect p99</dt>
        <dd>{percentile(report.connectMs, report.connectMs.p99)}</dd>
        <dt>connect errors / drops</dt>
        <dd>
          {exact(report.connectErrors)} / {exact(report.disconnects)}
        </dd>
        <dt>protocol errors</dt>
        <dd>{exact(report.protocolErrors)}</dd>
        <dt>order</dt>
        <dd data-testid="load-order">{describeOrder(report.order)}</dd>
        <dt>agent CPU</dt>
        <dd>{report.agentCpu.length > 0 ? report.agentCpu.map(formatPercent).join(', ') : '–'}</dd>
      </dl>
      {report.storm && <StormTotals storm={report.storm} />}
      {report.targets.length > 1 && (
        <table className="load-targets" aria-label="per target">
          <thead>
            <tr>
              <th scope="col">target</th>
              <th scope="col">connected</th>
              <th scope="col">deliveries</th>
            </tr>
          </thead>
          <tbody>
            {report.targets.map((t, i) => (
              <tr key={i}>
                <th scope="row">{formatTarget(t)}</th>
                <td className="numeric">
                  {exact(t.connected)} / {exact(t.clients)}
                </td>
                <td className="numeric">{exact(t.deliveries)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {errors.length > 0 && (
        <ul className="load-errors" aria-label="errors by reason">
          {errors.map(([reason, count]) => (
            <li key={reason}>
              <span className="error">{reason}</span> × {exact(count)}
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
