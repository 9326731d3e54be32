import { createStore, type StoreApi } from 'zustand/vanilla'
import type { SwitchboardApi } from '../../../shared/contract'
import { createClientSlice, type ClientSlice } from './client-slice'
import { createLogSlice, type LogSlice } from './log-slice'
import { createMetricsSlice, type MetricsSlice } from './metrics-slice'
import { createServerSlice, type ServerSlice } from './server-slice'

export type AppState = ServerSlice & MetricsSlice & LogSlice & ClientSlice
export type AppStore = StoreApi<AppState>

/** One store, in slices; a vanilla store so the API bridge (and tests) can feed it from outside React. */
export function createAppStore(): AppStore {
  return createStore<AppState>()((...a) => ({
    ...createServerSlice(...a),
    ...createMetricsSlice(...a),
    ...createLogSlice(...a),
    ...createClientSlice(...a)
  }))
}

/** Feeds the host's events into the store; returns what undoes it. */
export function bridgeApiToStore(api: SwitchboardApi, store: AppStore): () => void {
  const s = store.getState()
  const unsubscribe = [
    api.onServerState(s.setServer),
    api.onMetrics(s.pushMetrics),
    api.onLog(s.appendLog),
    api.onClientState(s.setClient),
    api.onClientFrames(s.appendFrames)
  ]
  api.getServerState().then(s.setServer, () => {})
  return () => unsubscribe.forEach((off) => off())
}
