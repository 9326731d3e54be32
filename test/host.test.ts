import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ChatServer } from '../src/main/core/server/server'
import { serverFilesFromEnv } from '../src/main/host/env-files'
import { SwitchboardHost } from '../src/main/host/host'
import { connectLocal } from '../src/main/host/local-transport'
import { OPERATOR_REACH, OWN_SERVER_ONLY } from '../src/main/host/reach'
import { createSettingsFile, parseSettings, SETTINGS_VERSION, type SettingsStore } from '../src/main/host/settings'
import { validateCall } from '../src/main/host/validate'
import { DEFAULT_LIMITS, DEFAULT_SERVER_CONFIG, type ClientFrame, type ClientState, type ServerConfig } from '../src/shared/contract'
import { LOAD_DEFAULTS, type LoadConfig, type LoadReport } from '../src/shared/load'
import type { LogEvent, LogKind, SessionPage } from '../src/shared/telemetry'
import { TcpProxy } from '../scripts/tcp-proxy'
import { TestCa } from '../scripts/tls-certs'
import { hashPassword } from '../src/main/core/auth/password'
import { withUser } from '../src/main/core/auth/users'
import { joinLine, LOAD_AGENT_FILE, TestClient, waitFor, WORKER_FILE } from './helpers'

let host: SwitchboardHost | undefined
afterEach(async () => {
  vi.restoreAllMocks()
  await host?.dispose()
  host = undefined
})

async function running(reach = OWN_SERVER_ONLY) {
  host = new SwitchboardHost({
    workerFile: WORKER_FILE,
    loadAgentFile: LOAD_AGENT_FILE,
    config: { listeners: [{ codec: 'line', host: '127.0.0.1', port: 0 }], workers: 0, workUs: 0, cluster: null, limits: DEFAULT_LIMITS },
    serverDefaults: { metricsIntervalMs: 50 },
    reach
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

/** A window of `h`, with every state and frame its client sent it. */
function watchWindow(h: SwitchboardHost) {
  const window = connectLocal(h)
  const states: ClientState[] = []
  const frames: ClientFrame[] = []
  window.api.onClientState((state) => states.push(state))
  window.api.onClientFrames((batch) => frames.push(...batch.frames))
  const notices = () => frames.filter((frame) => frame.notice).map((frame) => frame.text)
  return { ...window, states, frames, notices, statuses: () => states.map((state) => state.status) }
}

/** A line client in the lobby that says things and waits until the server has taken them. */
async function talker(port: number) {
  const { c } = await joinLine(port)
  return {
    async say(...texts: string[]) {
      for (const text of texts) c.send(`CHAT ${text}`)
      c.send('PING said')
      await c.expect('PONG said')
    },
    c
  }
}

describe('a window\'s client, when its connection is lost', () => {
  it('reconnects by itself and restores what was said meanwhile, saying how much', async () => {
    // As the desktop app allows: the window may connect to the test's proxy, which drops connections as a network would.
    const { port } = await running(OPERATOR_REACH)
    const proxy = await TcpProxy.start(port)
    const window = watchWindow(host!)
    const t = await talker(port)
    try {
      expect((await window.api.connectClient({ codec: 'line', host: '127.0.0.1', port: proxy.port })).status).toBe('connected')
      await window.api.sendClient('NICK ada')
      await t.c.expect('NICK guest-2 ada')
      await t.say('a')
      await waitFor('a, tagged with its id', () => window.frames.some((f) => /^@id=\S+ MSG lobby guest-1 a$/.test(f.text)))

      // Cut, and held back as it comes again: what is said now can only reach the window by its resume.
      proxy.blackhole()
      proxy.dropConnections()
      await waitFor('reconnecting', () => window.statuses().includes('reconnecting'))
      const reconnecting = window.states.find((s) => s.status === 'reconnecting')!
      expect(reconnecting.reason).toBeTruthy()
      expect(reconnecting.retryInMs).toBeGreaterThanOrEqual(0)
      await t.c.expect('LEFT lobby ada')
      await t.say('b', 'c')
      proxy.restore()
      await waitFor('the resume reported', () => window.notices().some((n) => n.startsWith('reconnected')), 10_000)
      expect(window.notices().at(-1)).toBe('reconnected — 2 missed messages restored')
      expect(window.statuses().slice(-3)).toEqual(['connected', 'reconnecting', 'connected'])
      // The lines restored came before the notice, and nothing was said twice.
      const texts = window.frames.map((f) => f.text)
      const said = texts.filter((text) => / MSG lobby guest-1 /.test(text)).map((text) => text.split(' ').at(-1))
      expect(said).toEqual(['a', 'b', 'c'])
      expect(texts.findLastIndex((text) => text.endsWith(' c'))).toBeLessThan(texts.indexOf('reconnected — 2 missed messages restored'))

      // Back under its own nick, and sending works as before.
      await t.c.expect(/^NICK guest-\d+ ada$/)
      await window.api.sendClient('CHAT back')
      await t.c.expect(/^MSG lobby ada back$/)
    } finally {
      window.close()
      await t.c.close()
      await proxy.stop()
    }
  })

  it('waits for a server that restarts, refuses to send meanwhile, and says what history was not kept', async () => {
    const target = await running()
    const window = watchWindow(host!)
    expect((await window.api.connectClient(target)).status).toBe('connected')
    await window.api.sendClient('CHAT before')
    await waitFor('its own message', () => window.frames.some((f) => f.text.endsWith(' before')))

    await host!.stopServer()
    await waitFor('reconnecting', () => window.states.at(-1)?.status === 'reconnecting')
    // Its own server stopped: it waits for it, and does not give up.
    await waitFor('waiting for the server', () => window.states.some((s) => s.status === 'reconnecting' && /^waiting for the server to run again/.test(s.reason ?? '')), 10_000)
    expect(window.frames.map((f) => f.text)).toContain('BYE server-shutdown')
    await expect(window.api.sendClient('CHAT lost')).rejects.toThrow(/not connected: reconnecting/)

    // The same port again: a new run of the server, which never kept the id the window last saw.
    await host!.startServer({ ...host!.serverState.config, listeners: [{ ...target, port: target.port }] })
    await waitFor('the resume reported', () => window.notices().some((n) => n.startsWith('reconnected')), 10_000)
    expect(window.notices().at(-1)).toMatch(/^reconnected — history gap: messages sent while you were away may be missing/)
    expect(window.states.at(-1)).toMatchObject({ status: 'connected', reason: null, retryInMs: null })
    window.close()
  })

  it('resumes from where it came in though it heard nothing, and after a restart is told of the gap it cannot rule out', async () => {
    const target = await running()
    const window = watchWindow(host!)
    expect((await window.api.connectClient(target)).status).toBe('connected')
    // Its CAP's answer told it its place: it has something to resume from.
    await waitFor('its place', () => window.frames.some((f) => /^@id=\S+ CAP ids$/.test(f.text)))
    await host!.stopServer()
    await waitFor('reconnecting', () => window.states.at(-1)?.status === 'reconnecting')
    await host!.startServer({ ...host!.serverState.config, listeners: [{ ...target, port: target.port }] })
    await waitFor('reconnected', () => window.notices().some((n) => n.startsWith('reconnected')), 10_000)
    expect(window.notices()).toEqual([
      'connection lost (closed by the server: server-shutdown) — reconnecting',
      expect.stringMatching(/^reconnected — history gap: messages sent while you were away may be missing/)
    ])
    expect(window.states.at(-1)!.status).toBe('connected')
    window.close()
  })

  it('lets go of what answers in its server\'s place that the window could not have connected to', async () => {
    const target = await running()
    const window = watchWindow(host!)
    expect((await window.api.connectClient(target)).status).toBe('connected')
    await host!.stopServer()
    await waitFor('reconnecting', () => window.states.at(-1)?.status === 'reconnecting')
    // Something else takes the port, and the server comes back on another: in browser mode a window may
    // reach only this server's listeners, so it gives up rather than talk to what answers there.
    const other = createServer((socket) => socket.on('error', () => {}))
    await new Promise<void>((resolve) => other.listen(target.port, '127.0.0.1', resolve))
    await host!.startServer(host!.serverState.config)
    try {
      await waitFor('closed', () => window.states.at(-1)?.status === 'closed', 10_000)
      expect(window.states.at(-1)!.reason).toMatch(/^gave up reconnecting: 127\.0\.0\.1:\d+ is not one of this server's listeners/)
      expect(window.statuses().slice(-2)).toEqual(['reconnecting', 'closed'])
    } finally {
      window.close()
      other.close()
    }
  })

  it('stays closed on asio, whose protocol has no resume', async () => {
    host = new SwitchboardHost({
      workerFile: WORKER_FILE,
      loadAgentFile: LOAD_AGENT_FILE,
      config: { listeners: [{ codec: 'asio', host: '127.0.0.1', port: 0 }], workers: 0, workUs: 0, cluster: null, limits: DEFAULT_LIMITS }
    })
    const { bound } = await host.startServer(host.serverState.config)
    const window = watchWindow(host)
    expect((await window.api.connectClient({ codec: 'asio', host: '127.0.0.1', port: bound[0].port })).status).toBe('connected')
    await window.api.sendClient('@id=1 MSG lobby x not a tag here')
    await waitFor('its body relayed', () => window.frames.some((f) => f.text === '@id=1 MSG lobby x not a tag here'))
    await host.stopServer()
    await waitFor('closed', () => window.states.at(-1)?.status === 'closed')
    expect(window.statuses()).toEqual(['connecting', 'connected', 'closed'])
    expect(window.notices()).toEqual([])
    window.close()
  })

  it('ends for good when the server kicks it', async () => {
    const target = await running()
    const window = watchWindow(host!)
    await window.api.connectClient(target)
    await window.api.sendClient('NICK kim')
    const { api, close } = connectLocal(host!)
    const kim = () => host!.sessionPage({ sort: 'age', filter: 'kim', offset: 0, limit: 10 })?.rows[0]
    await waitFor('kim on the server', () => kim() !== undefined)
    expect(await api.kickSession(kim()!.id)).toBe(true)
    await waitFor('closed', () => window.states.at(-1)?.status === 'closed')
    expect(window.states.at(-1)!.reason).toBe('closed by the server: kicked by the control panel')
    expect(window.statuses()).not.toContain('reconnecting')
    close()
    window.close()
  })
})

describe('a window aimed at a TLS listener of a server with users', () => {
  it('connects over TLS and logs in; told at once when it forgets TLS; never shown its password again', async () => {
    const ca = TestCa.create()
    try {
      const issued = ca.issue('switchboard', 'server')
      const usersFile = join(ca.dir, 'users')
      writeFileSync(usersFile, withUser('', usersFile, 'alice', hashPassword('wonderland', { ln: 4, r: 8, p: 1 })))
      host = new SwitchboardHost({
        workerFile: WORKER_FILE,
        loadAgentFile: LOAD_AGENT_FILE,
        config: { listeners: [{ codec: 'line', host: '127.0.0.1', port: 0, tls: true }], workers: 0, workUs: 0, cluster: null, limits: DEFAULT_LIMITS },
        serverDefaults: { tls: { cert: issued.cert, key: issued.key }, usersFile, metricsIntervalMs: 50 }
      })
      const state = await host.startServer(host.serverState.config)
      const target = { codec: 'line' as const, host: '127.0.0.1', port: state.bound[0].port }
      const { api } = connectLocal(host)
      await expect(api.connectClient(target)).rejects.toThrow(`tls+line:${target.port} is a TLS listener: connect with TLS`)
      const frames: ClientFrame[] = []
      api.onClientFrames(({ frames: batch }) => frames.push(...batch))
      const connected = await api.connectClient({ ...target, tls: true, auth: { user: 'alice', password: 'wonderland' } })
      expect(connected.status).toBe('connected')
      expect(connected.config?.auth).toEqual({ user: 'alice', password: '' })
      await waitFor('the window welcomed as alice', () => frames.some((frame) => frame.text === `JOINED lobby alice`))
      const page = new Promise<SessionPage>((resolve) => api.onSessions(resolve))
      await api.setSessionQuery({ sort: 'age', filter: 'alice', offset: 0, limit: 10 })
      expect((await page).rows.map((row) => row.user)).toEqual(['alice'])
      // A wrong password ends the window's connection for good: reconnecting would be refused again.
      const { api: other } = connectLocal(host)
      const states: ClientState[] = []
      other.onClientState((state) => states.push(state))
      await other.connectClient({ ...target, tls: true, auth: { user: 'alice', password: 'looking-glass' } })
      await waitFor('the window told it was refused', () => states.some((state) => state.status === 'closed'), 5000)
      expect(states.at(-1)?.reason).toMatch(/^closed by the server: auth-failed wrong user or password/)
      expect(states.some((state) => state.status === 'reconnecting')).toBe(false)
    } finally {
      ca.remove()
    }
  })
})

describe("the desktop app's certificate and users, from its environment", () => {
  it('takes them as the CLI flags name them, and refuses half a pair', () => {
    expect(serverFilesFromEnv({})).toEqual({})
    expect(serverFilesFromEnv({ SWITCHBOARD_TLS_CERT: 'c.pem', SWITCHBOARD_TLS_KEY: 'k.pem', SWITCHBOARD_USERS: 'users' })).toEqual({
      tls: { cert: 'c.pem', key: 'k.pem' },
      usersFile: 'users'
    })
    expect(serverFilesFromEnv({ SWITCHBOARD_TLS_CERT: 'c.pem', SWITCHBOARD_TLS_KEY: 'k.pem', SWITCHBOARD_TLS_CA: 'ca.pem' }).tls).toEqual({ cert: 'c.pem', key: 'k.pem', ca: 'ca.pem' })
    expect(() => serverFilesFromEnv({ SWITCHBOARD_TLS_CERT: 'c.pem' })).toThrow('SWITCHBOARD_TLS_CERT and SWITCHBOARD_TLS_KEY go together')
  })
})

describe('the traffic lab\'s reconnect storm', () => {
  it('restarts the host\'s own server on the ports it had; the clients come back, told the history went with it', async () => {
    const target = await running()
    const { api } = connectLocal(host!)
    const log = watchLog(host!)
    const load: LoadConfig = { ...LOAD_DEFAULTS, targets: [target], clients: 12, roomSize: 6, mode: 'open', rate: 20, messages: 0, durationMs: 1500, size: 32, timeoutMs: 10_000, resume: true, stormAfterMs: 400 }
    const reported = new Promise<LoadReport>((resolve) => api.onLoadReport(resolve))
    await api.startLoad(load)
    const report = await reported
    expect(report.storm).toMatchObject({ made: expect.stringMatching(/^server restarted in \d+ ms$/), lost: 12, resumed: 12, unresumed: 0, gaps: 12, duplicates: 0 })
    expect(log.count('shutdown')).toBeGreaterThanOrEqual(2)
    // Back on the port it had, and still asked to start on port 0 next time.
    expect(host!.serverState).toMatchObject({ status: 'running', bound: [expect.objectContaining({ port: target.port })] })
    expect(host!.serverState.config.listeners[0].port).toBe(0)
    log.close()
  }, 20_000)
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

describe('settings kept by the host', () => {
  /** One session at most: a limit anyone can see from outside. */
  const ONE_SESSION: ServerConfig = {
    listeners: [{ codec: 'line', host: '127.0.0.1', port: 0 }],
    workers: 0,
    workUs: 0,
    cluster: null,
    limits: { ...DEFAULT_LIMITS, maxSessions: 1 }
  }
  const settingsFile = () => join(mkdtempSync(join(tmpdir(), 'switchboard-host-')), 'settings.json')
  const hostWith = (settings: SettingsStore, config?: ServerConfig) =>
    new SwitchboardHost({ workerFile: WORKER_FILE, loadAgentFile: LOAD_AGENT_FILE, settings, config, serverDefaults: { metricsIntervalMs: 50 } })
  const kept = (path: string) => parseSettings(readFileSync(path, 'utf8'))

  it('starts from the kept config, limits included, and they reach the server', async () => {
    const path = settingsFile()
    writeFileSync(path, JSON.stringify({ version: SETTINGS_VERSION, server: ONE_SESSION, load: null }))
    host = hostWith(createSettingsFile(path))
    expect(host.serverState.config).toEqual(ONE_SESSION)
    const { bound } = await host.startServer(host.serverState.config)
    const first = await joinLine(bound[0].port)
    const second = await TestClient.connect({ port: bound[0].port })
    await second.expect(/^ERR server-full /)
    await Promise.all([first.c.close(), second.close()])
  })

  it('lets a config given to it win over the kept one', () => {
    const path = settingsFile()
    writeFileSync(path, JSON.stringify({ version: SETTINGS_VERSION, server: ONE_SESSION, load: null }))
    const given = { ...ONE_SESSION, workers: 1 }
    host = hostWith(createSettingsFile(path), given)
    expect(host.serverState.config).toEqual(given)
  })

  it('keeps the config it is asked to start with, and the last run\'s, for the next launch', async () => {
    const path = settingsFile()
    host = hostWith(createSettingsFile(path))
    expect(host.serverState.config).toEqual(DEFAULT_SERVER_CONFIG)
    const { api } = connectLocal(host)
    expect(await api.getLastLoadConfig()).toBeNull()
    const state = await api.startServer(ONE_SESSION)
    await waitFor('the config kept', () => existsSync(path) && kept(path).server.limits.maxSessions === 1)
    expect(kept(path)).toEqual({ version: SETTINGS_VERSION, server: ONE_SESSION, load: null })

    const load: LoadConfig = { ...LOAD_DEFAULTS, targets: [{ host: '127.0.0.1', port: state.bound[0].port }], clients: 1, messages: 3, size: 32, timeoutMs: 5000 }
    const reported = new Promise((resolve) => api.onLoadReport(resolve))
    await api.startLoad(load)
    expect(await api.getLastLoadConfig()).toEqual(load)
    await reported
    await host.dispose()
    expect(kept(path)).toEqual({ version: SETTINGS_VERSION, server: ONE_SESSION, load })

    host = hostWith(createSettingsFile(path))
    expect(host.serverState.config).toEqual(ONE_SESSION)
    expect(await connectLocal(host).api.getLastLoadConfig()).toEqual(load)
  })

  it('keeps a config whose start failed: it is what to correct next time', async () => {
    const path = settingsFile()
    host = hostWith(createSettingsFile(path))
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const taken = { ...ONE_SESSION, listeners: [{ codec: 'line' as const, host: '127.0.0.1', port: (blocker.address() as AddressInfo).port }] }
    const state = await host.startServer(taken)
    blocker.close()
    expect(state.error).toMatch(/EADDRINUSE/)
    await host.dispose()
    expect(kept(path).server).toEqual(taken)
  })

  it('reports a file it could not use in the log a window sees, and starts from the defaults', async () => {
    const path = settingsFile()
    writeFileSync(path, '{ not json')
    host = hostWith(createSettingsFile(path))
    expect(host.serverState.config).toEqual(DEFAULT_SERVER_CONFIG)
    // A window that opens later gets it with the backlog, sent as it attaches.
    const events: LogEvent[] = []
    host.attach({ send: (event, payload) => event === 'onLog' && events.push(...(payload as LogEvent[])) })
    expect(events.filter((e) => e.kind === 'error').map((e) => e.text)).toEqual([
      expect.stringMatching(new RegExp(`^settings file ${path} could not be used \\(not JSON: .*\\); replaced by defaults, the file kept as ${path}\\.bad$`))
    ])
    expect(await connectLocal(host).api.getLastLoadConfig()).toBeNull()
    expect(readFileSync(`${path}.bad`, 'utf8')).toBe('{ not json')
  })

  it('reports a save that failed, and starts the server all the same', async () => {
    const failing: SettingsStore = { kept: null, problem: null, save: async () => 'cannot keep settings in /nowhere: EACCES' }
    host = hostWith(failing)
    const log = watchLog(host)
    const state = await host.startServer(ONE_SESSION)
    expect(state.status).toBe('running')
    await waitFor('the failure in the log', () => log.count('error') === 1)
    log.close()
  })
})

describe('disposing the host (quitting the app)', () => {
  it('happens once however often it is asked, and nothing new starts while it goes on', async () => {
    const target = await running()
    const { api } = connectLocal(host!)
    const events: LogEvent[] = []
    api.onLog((batch) => events.push(...batch))
    const first = host!.dispose()
    const second = host!.dispose()
    expect(() => host!.startLoad({ ...LOAD_DEFAULTS, targets: [target] } as LoadConfig)).toThrow(/the control room is closing/)
    await Promise.all([first, second])
    // A click that arrives as the app quits, after the disposal's stop: it must not bring the server back.
    expect((await host!.startServer(host!.serverState.config)).status).toBe('stopped')
    expect(events.filter((event) => event.text === 'control room closing: stopping the server')).toHaveLength(1)
  })
})
