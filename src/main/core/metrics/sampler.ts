import { createHistogram, monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks'
import type { ClusterMetrics, MetricsSnapshot, SessionMetrics, TotalsMetrics } from '../../../shared/telemetry'

/** Cumulative figures read from the server at sampling time; the sampler turns them into rates. */
export type ServerCounters = Omit<
  TotalsMetrics,
  'sessions' | `${string}PerSec` | 'poolUtilization' | `${string}Ms`
> & {
  sessions: SessionMetrics[]
  logicBusyMs: number
}

const NS_PER_MS = 1e6

/**
 * Turns cumulative counters into per-interval figures. Latency percentiles come from an HDR
 * histogram (node:perf_hooks) that is reset at every sample, so each snapshot speaks of its own interval.
 */
export class MetricsSampler {
  private readonly logicLatency: RecordableHistogram = createHistogram()
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 })
  private readonly startedAt = performance.now()
  private last = { at: performance.now(), msgsIn: 0, msgsOut: 0, bytesIn: 0, bytesOut: 0, busyMs: 0 }

  constructor() {
    this.loopDelay.enable()
  }

  recordLogicLatency(ms: number): void {
    this.logicLatency.record(Math.max(1, Math.round(ms * NS_PER_MS)))
  }

  sample(counters: ServerCounters, cluster: ClusterMetrics | null): MetricsSnapshot {
    const now = performance.now()
    const seconds = Math.max((now - this.last.at) / 1000, 1e-3)
    const perSec = (total: number, before: number) => (total - before) / seconds
    const capacityMs = (now - this.last.at) * Math.max(counters.poolThreads, 1)
    const hasLatency = this.logicLatency.count > 0
    const { sessions, logicBusyMs, ...carried } = counters
    const totals: TotalsMetrics = {
      ...carried,
      sessions: sessions.length,
      msgsInPerSec: perSec(counters.msgsIn, this.last.msgsIn),
      msgsOutPerSec: perSec(counters.msgsOut, this.last.msgsOut),
      bytesInPerSec: perSec(counters.bytesIn, this.last.bytesIn),
      bytesOutPerSec: perSec(counters.bytesOut, this.last.bytesOut),
      poolUtilization: Math.min(1, (logicBusyMs - this.last.busyMs) / capacityMs),
      logicLatencyP50Ms: hasLatency ? this.logicLatency.percentile(50) / NS_PER_MS : null,
      logicLatencyP99Ms: hasLatency ? this.logicLatency.percentile(99) / NS_PER_MS : null,
      eventLoopLagP99Ms: Math.max(0, this.loopDelay.percentile(99) / NS_PER_MS - 10)
    }
    this.logicLatency.reset()
    this.loopDelay.reset()
    const { msgsIn, msgsOut, bytesIn, bytesOut } = counters
    this.last = { at: now, msgsIn, msgsOut, bytesIn, bytesOut, busyMs: logicBusyMs }
    return { at: Date.now(), uptimeMs: now - this.startedAt, totals, sessions, cluster }
  }

  close(): void {
    this.loopDelay.disable()
  }
}
