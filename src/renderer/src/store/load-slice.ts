import type { StateCreator } from 'zustand/vanilla'
import type { LoadConfig, LoadProgress, LoadReport } from '../../../shared/load'
import type { AppState } from '.'
import { appendPoint } from './series'

/** Reports kept for side by side comparison: more would not fit a row of columns anyway. */
export const LOAD_RUNS_CAP = 20

/** One run's samples, as uPlot columns: x in seconds (wall clock), one array per series, all the same length. */
export interface LoadHistory {
  runId: number | null
  /** The run's start by this window's clock, taken from its first sample (the engine reports elapsed time only). */
  originMs: number | null
  time: number[]
  deliveriesPerSec: number[]
  /** An interval without any echo is drawn as 0: the charts take numbers only. */
  /** null where an interval had no echo to measure: a gap, not a zero. */
  p99Ms: (number | null)[]
  open: number[]
}

export interface LoadSlice {
  /** The run going on now (started here or from another window) until its report arrives. */
  loadRunId: number | null
  loadProgress: LoadProgress | null
  loadHistory: LoadHistory
  /** Reports of finished runs, oldest first; the newest LOAD_RUNS_CAP only. */
  loadRuns: LoadReport[]
  /** startLoad resolved with this id. */
  loadStarted(runId: number): void
  pushLoadProgress(progress: LoadProgress): void
  addLoadReport(report: LoadReport): void
  /** Merges reports from getLoadRuns, which may answer after the first onLoadReport event. */
  mergeLoadRuns(reports: LoadReport[]): void
  /** The config the host last started a run with (from an earlier launch too): the form starts from it. */
  lastLoadConfig: LoadConfig | null
  setLastLoadConfig(config: LoadConfig | null): void
}

const emptyHistory = (runId: number | null): LoadHistory => ({
  runId,
  originMs: null,
  time: [],
  deliveriesPerSec: [],
  p99Ms: [],
  open: []
})

/** Runs by id (a report can arrive twice: from the event and from getLoadRuns), oldest first, capped. */
function mergeRuns(runs: LoadReport[], added: LoadReport[]): LoadReport[] {
  const byId = new Map(runs.map((run) => [run.runId, run]))
  for (const report of added) byId.set(report.runId, report)
  const merged = [...byId.values()].sort((a, b) => a.runId - b.runId)
  return merged.length > LOAD_RUNS_CAP ? merged.slice(merged.length - LOAD_RUNS_CAP) : merged
}

const isReported = (runs: LoadReport[], runId: number): boolean => runs.some((run) => run.runId === runId)

export const createLoadSlice: StateCreator<AppState, [], [], LoadSlice> = (set) => ({
  loadRunId: null,
  loadProgress: null,
  loadHistory: emptyHistory(null),
  loadRuns: [],
  lastLoadConfig: null,
  setLastLoadConfig: (lastLoadConfig) => set({ lastLoadConfig }),
  loadStarted: (runId) =>
    set((state) => {
      // A run that fails at once can report before startLoad has answered: it is over already.
      if (isReported(state.loadRuns, runId)) return state
      if (state.loadHistory.runId === runId) return { loadRunId: runId }
      return { loadRunId: runId, loadProgress: null, loadHistory: emptyHistory(runId) }
    }),
  pushLoadProgress: (progress) =>
    set((state) => {
      if (isReported(state.loadRuns, progress.runId)) return state
      const previous = state.loadHistory.runId === progress.runId ? state.loadHistory : emptyHistory(progress.runId)
      const originMs = previous.originMs ?? Date.now() - progress.elapsedMs
      return {
        loadRunId: progress.runId,
        loadProgress: progress,
        loadHistory: {
          runId: progress.runId,
          originMs,
          time: appendPoint(previous.time, (originMs + progress.elapsedMs) / 1000),
          deliveriesPerSec: appendPoint(previous.deliveriesPerSec, progress.deliveriesPerSec),
          p99Ms: appendPoint(previous.p99Ms, progress.p99Ms),
          open: appendPoint(previous.open, progress.open)
        }
      }
    }),
  addLoadReport: (report) =>
    set((state) => ({
      loadRuns: mergeRuns(state.loadRuns, [report]),
      loadRunId: state.loadRunId === report.runId ? null : state.loadRunId
    })),
  mergeLoadRuns: (reports) =>
    set((state) => ({
      loadRuns: mergeRuns(state.loadRuns, reports),
      loadRunId: state.loadRunId !== null && isReported(reports, state.loadRunId) ? null : state.loadRunId
    }))
})
