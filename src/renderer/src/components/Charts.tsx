import { useAppStore } from '../context'
import { TimeChart } from './TimeChart'

export function Charts() {
  const history = useAppStore((s) => s.history)
  return (
    <section className="card charts" aria-label="charts">
      <TimeChart title="Messages per second" time={history.time} series={[
        { label: 'in', values: history.msgsInPerSec, color: '#4aa3ff' },
        { label: 'out', values: history.msgsOutPerSec, color: '#ffb347' }
      ]} />
      <TimeChart title="Logic queue depth" time={history.time} series={[{ label: 'frames', values: history.queueDepth, color: '#b084ff' }]} />
      <TimeChart title="Pool utilization" unit="%" time={history.time} series={[{ label: 'busy', values: history.poolUtilization, color: '#5ad17a' }]} />
      <TimeChart title="Event-loop lag p99" unit=" ms" time={history.time} series={[{ label: 'lag', values: history.eventLoopLagMs, color: '#ff6b6b' }]} />
    </section>
  )
}
