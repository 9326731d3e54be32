import type { StateCreator } from 'zustand/vanilla'
import type { ServerState } from '../../../shared/contract'
import type { AppState } from '.'

export interface ServerSlice {
  server: ServerState | null
  setServer(server: ServerState): void
  /** Why this page lost its host (browser mode: the WebSocket closed); null while connected. */
  hostLost: string | null
  setHostLost(reason: string): void
}

export const createServerSlice: StateCreator<AppState, [], [], ServerSlice> = (set) => ({
  server: null,
  setServer: (server) => set({ server }),
  hostLost: null,
  setHostLost: (hostLost) => set({ hostLost })
})
