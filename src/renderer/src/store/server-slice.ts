import type { StateCreator } from 'zustand/vanilla'
import type { ServerState } from '../../../shared/contract'
import type { AppState } from '.'

export interface ServerSlice {
  server: ServerState | null
  setServer(server: ServerState): void
}

export const createServerSlice: StateCreator<AppState, [], [], ServerSlice> = (set) => ({
  server: null,
  setServer: (server) => set({ server })
})
