import type { ClusterMetrics, MetricsSnapshot, TotalsMetrics } from '../../shared/telemetry'
import { compact, ms } from './format'

/** A node's view of its cluster: nodes alive, the worst stream lag, and trouble only when there is some. */
function formatCluster(c: ClusterMetrics): string {
  const lag = Math.max(0, ...c.rooms.map((room) => room.lagMs ?? 0))
  return [
    `cluster ${c.nodeId}: ${c.nodes.length} nodes${c.redisReachable ? '' : ' redis unreachable'}${c.fenced === null ? '' : ' FENCED'} stream lag ${ms(lag)}`,
    ...(c.entriesLost > 0 ? [`entries lost ${c.entriesLost}`] : []),
    ...(c.nodesReaped > 0 ? [`nodes reaped ${c.nodesReaped}`] : []),
    ...(c.backlogRefused > 0 ? [`backlog refused ${c.backlogRefused}`] : [])
  ].join(' ')
}

/** The CLI's periodic one-line status. */
export function formatStatus(t: TotalsMetrics, cluster: ClusterMetrics | null = null): string {
  const pool = t.poolThreads > 0 ? `${t.poolThreads} threads ${Math.round(t.poolUtilization * 100)}%` : `inline ${Math.round(t.poolUtilization * 100)}%`
  return [
    `sessions ${t.sessions}`,
    `in ${compact.format(t.msgsInPerSec)} msg/s`,
    `out ${compact.format(t.msgsOutPerSec)} msg/s (${compact.format(t.bytesOutPerSec)}B/s)`,
    `queue ${t.logicQueueDepth} peak ${t.logicQueuePeak}${t.readingPaused ? ' PAUSED' : ''}${t.sessionsHeld > 0 ? ` held ${t.sessionsHeld}` : ''}`,
    `logic ${pool} p50 ${ms(t.logicLatencyP50Ms)} p99 ${ms(t.logicLatencyP99Ms)}`,
    `lag p99 ${ms(t.eventLoopLagP99Ms)} max ${ms(t.eventLoopLagMaxMs)}`,
    // Faults and limits only when there are any: a quiet status line on a good day.
    ...(t.rateLimited > 0 ? [`rate-limited ${t.rateLimited}`] : []),
    ...(t.queuedBytes > 0 ? [`output queued ${compact.format(t.queuedBytes)}B`] : []),
    ...(t.slowConsumers > 0 ? [`slow consumers dropped ${t.slowConsumers}`] : []),
    ...(t.batchesRedone > 0 ? [`batches redone ${t.batchesRedone} (${t.batchTimeouts} past deadline)`] : []),
    ...(cluster ? [formatCluster(cluster)] : [])
  ].join(' | ')
}

/** The figures a line keeps the worst of, over the snapshots since the last line. */
type Worst = Pick<TotalsMetrics, 'logicQueuePeak' | 'eventLoopLagP99Ms' | 'eventLoopLagMaxMs'>
const NONE: Worst = { logicQueuePeak: 0, eventLoopLagP99Ms: 0, eventLoopLagMaxMs: 0 }

/**
 * One status line every `periodMs` from the 4 Hz snapshots. Each snapshot's queue peak and lag cover its own
 * 250 ms: a line that skipped three says the worst of them, so a stall the control room showed is here too.
 */
export class StatusLine {
  private lastAt = 0
  private worst = NONE

  constructor(private readonly periodMs: number) {}

  /** The line to print now, or null until the period has passed. */
  take({ at, totals, cluster }: MetricsSnapshot): string | null {
    const worst = { ...this.worst }
    for (const key of Object.keys(worst) as (keyof Worst)[]) worst[key] = Math.max(worst[key], totals[key])
    this.worst = worst
    if (at - this.lastAt < this.periodMs - 50) return null
    this.lastAt = at
    this.worst = NONE
    return formatStatus({ ...totals, ...worst }, cluster)
  }
}
