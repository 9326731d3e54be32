import { useAppStore } from '../context'
import { formatCount, formatMs, plural } from '../format'
import { LoadForm } from './LoadForm'
import { LoadRuns } from './LoadRuns'
import { LoadSummary } from './LoadSummary'
import { TimeChart } from './TimeChart'

/** The live line of the run going on (or of the last one, until the next starts). */
function LoadProgressLine() {
  const progress = useAppStore((s) => s.loadProgress)
  const running = useAppStore((s) => s.loadRunId !== null)
  if (!progress) return <p className="muted load-progress">{running ? 'starting…' : 'No run yet.'}</p>
  return (
    <p className="load-progress" data-testid="load-progress">
      <span className={`badge ${progress.phase === 'done' ? 'stopped' : 'starting'}`}>{progress.phase}</span>
      <span>run #{progress.runId}</span>
      <span>{(progress.elapsedMs / 1000).toFixed(1)} s</span>
      <span>{formatCount(progress.open)} open</span>
      <span>{formatCount(progress.sentPerSec)} sent/s</span>
      <span>{formatCount(progress.deliveriesPerSec)} deliveries/s</span>
      <span>p99 so far {formatMs(progress.p99SoFarMs)}</span>
      <span>
        {progress.deliveries.toLocaleString('en')} / {progress.expected.toLocaleString('en')} delivered
      </span>
      {progress.errors > 0 && <span className="error">{plural(progress.errors, 'error')}</span>}
    </p>
  )
}

function LoadCharts() {
  const history = useAppStore((s) => s.loadHistory)
  return (
    <div className="load-charts">
      <TimeChart
        title="Deliveries per second"
        time={history.time}
        series={[{ label: 'deliveries', values: history.deliveriesPerSec, color: '#4aa3ff' }]}
      />
      <TimeChart title="Latency p99" unit=" ms" time={history.time} series={[{ label: 'p99', values: history.p99Ms, color: '#ff6b6b' }]} />
      <TimeChart title="Open connections" time={history.time} series={[{ label: 'open', values: history.open, color: '#5ad17a' }]} />
    </div>
  )
}

/** Load runs against the built-in server or any host:port: knobs, live charts, the report, and earlier runs. */
export function TrafficLab() {
  const running = useAppStore((s) => s.loadRunId !== null)
  const runs = useAppStore((s) => s.loadRuns)
  const latest = runs.at(-1)
  return (
    <section className="card traffic-lab" aria-label="traffic lab">
      <header>
        <h2>Traffic lab</h2>
        <span className={`badge ${running ? 'running' : 'stopped'}`} data-testid="load-status">
          {running ? 'running' : 'idle'}
        </span>
      </header>
      <LoadForm />
      <div className="load-live">
        <LoadProgressLine />
        <LoadCharts />
      </div>
      {latest && <LoadSummary report={latest} />}
      {runs.length > 0 && <LoadRuns runs={runs} />}
    </section>
  )
}
