import { afterEach, describe, expect, it } from 'vitest'
import { SwitchboardHost } from '../src/main/host/host'
import { connectLocal } from '../src/main/host/local-transport'
import { LOAD_AGENT_FILE, WORKER_FILE } from './helpers'

let host: SwitchboardHost | undefined
afterEach(async () => {
  await host?.dispose()
  host = undefined
})

async function running() {
  host = new SwitchboardHost({
    workerFile: WORKER_FILE,
    loadAgentFile: LOAD_AGENT_FILE,
    config: { listeners: [{ codec: 'line', host: '127.0.0.1', port: 0 }], workers: 0, workUs: 0 },
    serverDefaults: { metricsIntervalMs: 50 }
  })
  const state = await host.startServer(host.serverState.config)
  return { codec: 'line' as const, host: '127.0.0.1', port: state.bound[0].port }
}

/** Sessions the server holds, from its own metrics. */
async function sessionsOnServer(h: SwitchboardHost): Promise<number> {
  const { api, close } = connectLocal(h)
  const count = await new Promise<number>((resolve) => api.onMetrics((m) => resolve(m.totals.sessions)))
  close()
  return count
}

describe('a window\'s client, held by the host', () => {
  it('keeps one connection when a window asks twice at once', async () => {
    const target = await running()
    const { api } = connectLocal(host!)
    const states = await Promise.all([api.connectClient(target), api.connectClient(target)])
    expect(states.at(-1)!.status).toBe('connected')
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(await sessionsOnServer(host!)).toBe(1)
  })

  it('closes a connection still being made when its window goes away', async () => {
    const target = await running()
    const window = connectLocal(host!)
    const connecting = window.api.connectClient(target)
    window.close()
    await connecting
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(await sessionsOnServer(host!)).toBe(0)
  })
})
