import type { StateCreator } from 'zustand/vanilla'
import type { MetricsSnapshot } from '../../../shared/telemetry'
import type { AppState } from '.'
import { appendPoint } from './series'

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

export const createMetricsSlice: StateCreator<AppState, [], [], MetricsSlice> = (set) => ({
  latest: null,
  history: emptyHistory(),
  pushMetrics: (snapshot) =>
    set(({ history }) => {
      const t = snapshot.totals
      return {
        latest: snapshot,
        history: {
          time: appendPoint(history.time, snapshot.at / 1000),
          queueDepth: appendPoint(history.queueDepth, t.logicQueueDepth),
          msgsInPerSec: appendPoint(history.msgsInPerSec, t.msgsInPerSec),
          msgsOutPerSec: appendPoint(history.msgsOutPerSec, t.msgsOutPerSec),
          poolUtilization: appendPoint(history.poolUtilization, t.poolUtilization * 100),
          eventLoopLagMs: appendPoint(history.eventLoopLagMs, t.eventLoopLagP99Ms)
        }
      }
    }),
  clearMetrics: () => set({ latest: null, history: emptyHistory() })
})
