import { afterEach, describe, expect, it, vi } from 'vitest'
import { ChatServer } from '../src/main/core/server/server'
import { SwitchboardHost } from '../src/main/host/host'
import { connectLocal } from '../src/main/host/local-transport'
import { validateCall } from '../src/main/host/validate'
import { DEFAULT_LIMITS, DEFAULT_SERVER_CONFIG } from '../src/shared/contract'
import type { LogEvent, LogKind } from '../src/shared/telemetry'
import { joinLine, LOAD_AGENT_FILE, waitFor, WORKER_FILE } from './helpers'

let host: SwitchboardHost | undefined
afterEach(async () => {
  vi.restoreAllMocks()
  await host?.dispose()
  host = undefined
})

async function running() {
  host = new SwitchboardHost({
    workerFile: WORKER_FILE,
    loadAgentFile: LOAD_AGENT_FILE,
    config: { listeners: [{ codec: 'line', host: '127.0.0.1', port: 0 }], workers: 0, workUs: 0, cluster: null, limits: DEFAULT_LIMITS },
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

/** The server's log from now on, as a window sees it: a connection closing is an event to wait for. */
function watchLog(h: SwitchboardHost) {
  const { api, close } = connectLocal(h)
  const events: LogEvent[] = []
  api.onLog((batch) => events.push(...batch))
  return { count: (kind: LogKind) => events.filter((event) => event.kind === kind).length, close }
}

describe('a window\'s client, held by the host', () => {
  it('keeps one connection when a window asks twice at once', async () => {
    const target = await running()
    const log = watchLog(host!)
    const { api } = connectLocal(host!)
    const states = await Promise.all([api.connectClient(target), api.connectClient(target)])
    expect(states.at(-1)!.status).toBe('connected')
    // Both requests reach the server; the superseded one must then be let go, not kept beside the other.
    await waitFor('the superseded connection to close', () => log.count('connect') === 2 && log.count('disconnect') === 1)
    expect(await sessionsOnServer(host!)).toBe(1)
    log.close()
  })

  it('closes a connection still being made when its window goes away', async () => {
    const target = await running()
    const log = watchLog(host!)
    const window = connectLocal(host!)
    const connecting = window.api.connectClient(target)
    window.close()
    await connecting
    // The connection was already under way, so it lands; the window being gone, it must then be let go.
    await waitFor('the orphaned connection to close', () => log.count('connect') === 1 && log.count('disconnect') === 1)
    expect(await sessionsOnServer(host!)).toBe(0)
    log.close()
  })
})

describe('a kick from the control room', () => {
  it('closes a session of this server here, and leaves one of another node to that node', async () => {
    const { port } = await running()
    const a = await joinLine(port)
    // Reaching the other node is the server's business (through Redis): here, only that it is asked.
    const kickRemote = vi.spyOn(ChatServer.prototype, 'kickRemote').mockResolvedValue(true)
    const { api, close } = connectLocal(host!)
    // Ids are per node: the same id on another node is another session, and this one stays.
    expect(await api.kickSession(a.id, 'node-b')).toBe(true)
    expect(kickRemote).toHaveBeenCalledExactlyOnceWith('node-b', a.id, 'by the control panel')
    a.c.send('PING')
    await a.c.expect(/^PONG/)
    expect(await api.kickSession(a.id)).toBe(true)
    expect(kickRemote).toHaveBeenCalledTimes(1)
    await a.c.expect('BYE kicked by the control panel')
    close()
  })
})

describe('a start\'s limits', () => {
  const config = { ...DEFAULT_SERVER_CONFIG, limits: DEFAULT_LIMITS }
  const withLimits = (limits: unknown) => () => validateCall('startServer', [{ ...config, limits }])

  it('are checked from the core\'s own minimum up, every one, with no extra', () => {
    expect(withLimits({ ...DEFAULT_LIMITS, maxRate: 0, idleTimeoutMs: 0, presenceLimit: 0 })()).toEqual([{ ...config, limits: { ...DEFAULT_LIMITS, maxRate: 0, idleTimeoutMs: 0, presenceLimit: 0 } }])
    expect(withLimits({ ...DEFAULT_LIMITS, maxSessions: 0 })).toThrow(/config\.limits\.maxSessions: expected a whole number from 1 to /)
    expect(withLimits({ ...DEFAULT_LIMITS, rateBurst: 0 })).toThrow(/config\.limits\.rateBurst: expected a whole number from 1 to /)
    expect(withLimits({ ...DEFAULT_LIMITS, partialTimeoutMs: -1 })).toThrow(/config\.limits\.partialTimeoutMs: expected a whole number from 0 to /)
    expect(withLimits({ ...DEFAULT_LIMITS, maxLineBytes: 1.5 })).toThrow(/config\.limits\.maxLineBytes: expected a whole number/)
    const { maxOutputBytes: _, ...missing } = DEFAULT_LIMITS
    expect(withLimits(missing)).toThrow(/config\.limits\.maxOutputBytes: expected a whole number/)
    expect(withLimits({ ...DEFAULT_LIMITS, logicHighWater: 5 })).toThrow(/config\.limits: expected only maxSessions, /)
    expect(withLimits(undefined)).toThrow(/config\.limits: expected an object/)
  })
})
