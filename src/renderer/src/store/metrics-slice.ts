import type { StateCreator } from 'zustand/vanilla'
import type { MetricsSnapshot } from '../../../shared/telemetry'
import type { AppState } from '.'

/** Five minutes at the server's 4 snapshots a second. */
export const HISTORY_POINTS = 1200

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
  pushMetrics(snapshot: MetricsSnapshot): void
  clearMetrics(): void
}

const emptyHistory = (): MetricsHistory => ({
  time: [],
  queueDepth: [],
  msgsInPerSec: [],
  msgsOutPerSec: [],
  poolUtilization: [],
  eventLoopLagMs: []
})

function append(series: number[], value: number): number[] {
  const next = series.length >= HISTORY_POINTS ? series.slice(series.length - HISTORY_POINTS + 1) : series.slice()
  next.push(value)
  return next
}

export const createMetricsSlice: StateCreator<AppState, [], [], MetricsSlice> = (set) => ({
  latest: null,
  history: emptyHistory(),
  pushMetrics: (snapshot) =>
    set(({ history }) => {
      const t = snapshot.totals
      return {
        latest: snapshot,
        history: {
          time: append(history.time, snapshot.at / 1000),
          queueDepth: append(history.queueDepth, t.logicQueueDepth),
          msgsInPerSec: append(history.msgsInPerSec, t.msgsInPerSec),
          msgsOutPerSec: append(history.msgsOutPerSec, t.msgsOutPerSec),
          poolUtilization: append(history.poolUtilization, t.poolUtilization * 100),
          eventLoopLagMs: append(history.eventLoopLagMs, t.eventLoopLagP99Ms)
        }
      }
    }),
  clearMetrics: () => set({ latest: null, history: emptyHistory() })
})
