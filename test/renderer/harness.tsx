import { render, type RenderResult } from '@testing-library/react'
import type { ReactElement } from 'react'
import { SwitchboardHost, type HostOptions } from '../../src/main/host/host'
import type { Reach } from '../../src/main/host/reach'
import { connectLocal } from '../../src/main/host/local-transport'
import type { SettingsStore } from '../../src/main/host/settings'
import { createApiProxy, DEFAULT_LIMITS, type ClientConfig, type ClientState, type ServerConfig } from '../../src/shared/contract'
import { AppProvider } from '../../src/renderer/src/context'
import { bridgeApiToStore, createAppStore, type AppStore } from '../../src/renderer/src/store'
import { LOAD_AGENT_FILE, WORKER_FILE } from '../helpers'

/** Free ports, so tests never collide with each other or with a server on 7000. */
export const TEST_CONFIG: ServerConfig = { listeners: [{ codec: 'line', host: '127.0.0.1', port: 0 }], workers: 2, workUs: 0, cluster: null, limits: DEFAULT_LIMITS }

export interface Harness extends RenderResult {
  host: SwitchboardHost
  store: AppStore
  dispose(): Promise<void>
}

/**
 * Renders a component against the real host (and so a real server) through the in-process
 * transport: the renderer code under test is exactly what runs in a window.
 */
export function renderWithHost(
  ui: ReactElement,
  config: ServerConfig = TEST_CONFIG,
  serverDefaults: HostOptions['serverDefaults'] = {},
  settings?: SettingsStore,
  reach?: Reach
): Harness {
  const host = new SwitchboardHost({
    workerFile: WORKER_FILE,
    loadAgentFile: LOAD_AGENT_FILE,
    config,
    serverDefaults: { metricsIntervalMs: 50, ...serverDefaults },
    settings,
    reach
  })
  const { api, close } = connectLocal(host)
  const store = createAppStore()
  const unbridge = bridgeApiToStore(api, store)
  const result = render(
    <AppProvider api={api} store={store}>
      {ui}
    </AppProvider>
  )
  return {
    ...result,
    host,
    store,
    dispose: async () => {
      result.unmount()
      unbridge()
      close()
      await host.dispose()
    }
  }
}

export interface RecordedCall {
  call: string
  args: unknown[]
}

/**
 * An api that answers little on its own, recording the calls made to it through the contract's own proxy,
 * so that a call looks exactly as a host would receive it. `kicked`: what it answers a Kick; a startLoad is
 * answered with a run id (the number of calls so far), a connectClient with a connection (no events follow).
 */
export function recordingApi(kicked: boolean) {
  const calls: RecordedCall[] = []
  const answer = (call: string, args: unknown[]): unknown => {
    if (call === 'kickSession') return kicked
    if (call === 'startLoad') return { runId: calls.length }
    if (call === 'connectClient') return { status: 'connected', config: args[0] as ClientConfig, reason: null, retryInMs: null } satisfies ClientState
    return undefined
  }
  const api = createApiProxy({
    invoke: async (call, args) => {
      calls.push({ call, args: [...args] })
      return answer(call, args) as never
    },
    subscribe: () => () => {}
  })
  return { api, calls }
}

/**
 * Renders a component against a store the test feeds itself (snapshots, pages), for what a single real
 * server cannot show (a cluster, a slow consumer at a given point); `kicked`: what the api answers a Kick
 * (false: the session, or its node, was gone).
 */
export function renderWithStore(ui: ReactElement, kicked = true): { store: AppStore; calls: RecordedCall[] } {
  const store = createAppStore()
  const { api, calls } = recordingApi(kicked)
  render(
    <AppProvider api={api} store={store}>
      {ui}
    </AppProvider>
  )
  return { store, calls }
}
