import { createContext, useContext, type ReactNode } from 'react'
import { useStore } from 'zustand'
import type { SwitchboardApi } from '../../shared/contract'
import type { AppState, AppStore } from './store'

interface App {
  api: SwitchboardApi
  store: AppStore
}

const AppContext = createContext<App | null>(null)

export function AppProvider({ api, store, children }: App & { children: ReactNode }) {
  return <AppContext.Provider value={{ api, store }}>{children}</AppContext.Provider>
}

function useApp(): App {
  const app = useContext(AppContext)
  if (!app) throw new Error('AppProvider is missing')
  return app
}

export const useApi = (): SwitchboardApi => useApp().api

/** Reads one piece of the store; the component re-renders only when that piece changes. */
export function useAppStore<T>(selector: (state: AppState) => T): T {
  return useStore(useApp().store, selector)
}
