import { createStore, type StoreApi } from 'zustand/vanilla'
import type { SwitchboardApi } from '../../../shared/contract'
import { createClientSlice, type ClientSlice } from './client-slice'
import { createLoadSlice, type LoadSlice } from './load-slice'
import { createLogSlice, type LogSlice } from './log-slice'
import { createMetricsSlice, type MetricsSlice } from './metrics-slice'
import { createServerSlice, type ServerSlice } from './server-slice'

export type AppState = ServerSlice & MetricsSlice & LogSlice & ClientSlice & LoadSlice
export type AppStore = StoreApi<AppState>

/** One store, in slices; a vanilla store so the API bridge (and tests) can feed it from outside React. */
export function createAppStore(): AppStore {
  return createStore<AppState>()((...a) => ({
    ...createServerSlice(...a),
    ...createMetricsSlice(...a),
    ...createLogSlice(...a),
    ...createClientSlice(...a),
    ...createLoadSlice(...a)
  }))
}

/** Feeds the host's events into the store; returns what undoes it. */
export function bridgeApiToStore(api: SwitchboardApi, store: AppStore): () => void {
  const s = store.getState()
  const unsubscribe = [
    api.onServerState(s.setServer),
    api.onMetrics(s.pushMetrics),
    api.onSessions(s.setSessionPage),
    api.onLog(s.appendLog),
    api.onClientState(s.setClient),
    api.onClientFrames(s.appendFrames),
    api.onLoadProgress(s.pushLoadProgress),
    api.onLoadReport(s.addLoadReport)
  ]
  api.getServerState().then(s.setServer, () => {})
  // Earlier runs (of any window) for comparison; a host without the traffic lab just leaves the list empty.
  api.getLoadRuns().then(s.mergeLoadRuns, () => {})
  api.getLastLoadConfig().then(s.setLastLoadConfig, () => {})
  // The charts' last minutes, kept by the host: a reloaded window does not start from empty charts.
  api.getMetricsHistory().then(s.loadMetricsHistory, () => {})
  return () => unsubscribe.forEach((off) => off())
}
