import { createHistogram, type RecordableHistogram } from 'node:perf_hooks'
import type { TotalsMetrics } from '../../../shared/telemetry'
import { LagProbe } from './lag-probe'

/** Cumulative figures read from the server at sampling time; the sampler turns them into rates. */
export type SampledCounters = Omit<TotalsMetrics, `${string}PerSec` | 'poolUtilization' | `${string}Ms`> & {
  logicBusyMs: number
}

/** How often the lag probe's timer is due (ms): fine enough to see a 25 ms stall several times over. */
const LAG_PERIOD_MS = 10

const NS_PER_MS = 1e6

/**
 * Turns cumulative counters into per-interval figures. Latency percentiles come from an HDR
 * histogram (node:perf_hooks) that is reset at every sample, so each snapshot speaks of its own interval.
 */
export class MetricsSampler {
  private readonly logicLatency: RecordableHistogram = createHistogram()
  private readonly loopLag: RecordableHistogram = createHistogram()
  private readonly lagProbe = new LagProbe(LAG_PERIOD_MS, (lateMs) => this.loopLag.record(Math.max(1, Math.round(lateMs * NS_PER_MS))))
  readonly startedAt = performance.now()
  private last = { at: performance.now(), msgsIn: 0, msgsOut: 0, bytesIn: 0, bytesOut: 0, busyMs: 0 }

  recordLogicLatency(ms: number): void {
    this.logicLatency.record(Math.max(1, Math.round(ms * NS_PER_MS)))
  }

  /** The interval's totals; its histograms start over, so the next sample speaks of the next interval alone. */
  sample(counters: SampledCounters): TotalsMetrics {
    const now = performance.now()
    const seconds = Math.max((now - this.last.at) / 1000, 1e-3)
    const perSec = (total: number, before: number) => (total - before) / seconds
    const capacityMs = (now - this.last.at) * Math.max(counters.poolThreads, 1)
    const hasLatency = this.logicLatency.count > 0
    const { logicBusyMs, ...carried } = counters
    const totals: TotalsMetrics = {
      ...carried,
      msgsInPerSec: perSec(counters.msgsIn, this.last.msgsIn),
      msgsOutPerSec: perSec(counters.msgsOut, this.last.msgsOut),
      bytesInPerSec: perSec(counters.bytesIn, this.last.bytesIn),
      bytesOutPerSec: perSec(counters.bytesOut, this.last.bytesOut),
      poolUtilization: Math.min(1, (logicBusyMs - this.last.busyMs) / capacityMs),
      logicLatencyP50Ms: hasLatency ? this.logicLatency.percentile(50) / NS_PER_MS : null,
      logicLatencyP99Ms: hasLatency ? this.logicLatency.percentile(99) / NS_PER_MS : null,
      eventLoopLagP99Ms: this.loopLag.count > 0 ? this.loopLag.percentile(99) / NS_PER_MS : 0,
      eventLoopLagMaxMs: this.loopLag.count > 0 ? this.loopLag.max / NS_PER_MS : 0
    }
    this.logicLatency.reset()
    this.loopLag.reset()
    const { msgsIn, msgsOut, bytesIn, bytesOut } = counters
    this.last = { at: now, msgsIn, msgsOut, bytesIn, bytesOut, busyMs: logicBusyMs }
    return totals
  }

  close(): void {
    this.lagProbe.close()
  }
}
