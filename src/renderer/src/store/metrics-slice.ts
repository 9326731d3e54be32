import type { StateCreator } from 'zustand/vanilla'
import { chartPoint, type ChartPoint, type MetricsSnapshot, type SessionPage } from '../../../shared/telemetry'
import type { AppState } from '.'
import { appendPoint, HISTORY_POINTS } from './series'

/** Columns in uPlot's layout: one array of x (seconds) and one per series, all the same length. */
export interface MetricsHistory {
  time: number[]
  queueDepth: number[]
  msgsInPerSec: number[]
  msgsOutPerSec: number[]
  poolUtilization: number[]
  eventLoopLagMs: number[]
}

export interface MetricsSlice {
  latest: MetricsSnapshot | null
  history: MetricsHistory
  /** The page of sessions this window asked the host for; null before the first. */
  sessionPage: SessionPage | null
  pushMetrics(snapshot: MetricsSnapshot): void
  /** The host's last minutes of chart points, asked for as a window loads: they come before anything pushed since. */
  loadMetricsHistory(points: ChartPoint[]): void
  setSessionPage(page: SessionPage): void
  clearMetrics(): void
}

/** The charts' columns from points, oldest first, the last HISTORY_POINTS of them. */
function columns(points: ChartPoint[]): MetricsHistory {
  const kept = points.slice(-HISTORY_POINTS)
  return {
    time: kept.map((p) => p.at / 1000),
    queueDepth: kept.map((p) => p.logicQueueDepth),
    msgsInPerSec: kept.map((p) => p.msgsInPerSec),
    msgsOutPerSec: kept.map((p) => p.msgsOutPerSec),
    poolUtilization: kept.map((p) => p.poolUtilization * 100),
    eventLoopLagMs: kept.map((p) => p.eventLoopLagP99Ms)
  }
}

/** The points behind the columns again, to merge a history with what arrived before it. */
function points(history: MetricsHistory): ChartPoint[] {
  return history.time.map((t, i) => ({
    at: t * 1000,
    logicQueueDepth: history.queueDepth[i],
    msgsInPerSec: history.msgsInPerSec[i],
    msgsOutPerSec: history.msgsOutPerSec[i],
    poolUtilization: history.poolUtilization[i] / 100,
    eventLoopLagP99Ms: history.eventLoopLagMs[i]
  }))
}

export const createMetricsSlice: StateCreator<AppState, [], [], MetricsSlice> = (set) => ({
  latest: null,
  history: columns([]),
  sessionPage: null,
  pushMetrics: (snapshot) =>
    set(({ history }) => {
      const p = chartPoint(snapshot)
      return {
        latest: snapshot,
        history: {
          time: appendPoint(history.time, p.at / 1000),
          queueDepth: appendPoint(history.queueDepth, p.logicQueueDepth),
          msgsInPerSec: appendPoint(history.msgsInPerSec, p.msgsInPerSec),
          msgsOutPerSec: appendPoint(history.msgsOutPerSec, p.msgsOutPerSec),
          poolUtilization: appendPoint(history.poolUtilization, p.poolUtilization * 100),
          eventLoopLagMs: appendPoint(history.eventLoopLagMs, p.eventLoopLagP99Ms)
        }
      }
    }),
  loadMetricsHistory: (kept) =>
    set(({ history }) => {
      const last = kept.at(-1)?.at ?? -Infinity
      return { history: columns([...kept, ...points(history).filter((p) => p.at > last)]) }
    }),
  setSessionPage: (page) => set({ sessionPage: page }),
  clearMetrics: () => set({ latest: null, history: columns([]), sessionPage: null })
})
