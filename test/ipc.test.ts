import { afterEach, describe, expect, it } from 'vitest'
import { CALL_NAMES, DEFAULT_LIMITS, ipcChannel, type ClientState, type ServerState } from '../src/shared/contract'
import { SwitchboardHost } from '../src/main/host/host'
import { validateCall } from '../src/main/host/validate'
import { serveContractOverIpc, type IpcMainLike, type WebContentsLike } from '../src/main/ipc'
import { LOAD_AGENT_FILE, WORKER_FILE, TestClient, waitFor } from './helpers'

/** The only stand-in in the suite: Electron's ipcMain and webContents, which cannot run here. */
function fakeIpcMain() {
  const handlers = new Map<string, (event: { sender: WebContentsLike; senderFrame: { url: string } }, ...args: unknown[]) => unknown>()
  const ipcMain = { handle: (channel: string, handler: never) => handlers.set(channel, handler) } as unknown as IpcMainLike
  return { ipcMain, handlers }
}

function fakeWebContents(id: number) {
  const sent: { channel: string; payload: unknown }[] = []
  let destroyed = false
  const onDestroyed: (() => void)[] = []
  const contents = {
    id,
    send: (channel: string, payload: unknown) => sent.push({ channel, payload }),
    isDestroyed: () => destroyed,
    once: (event: string, listener: () => void) => {
      if (event === 'destroyed') onDestroyed.push(listener)
      return contents
    }
  } as unknown as WebContentsLike
  return { contents, sent, destroy: () => ((destroyed = true), onDestroyed.forEach((l) => l())) }
}

const OWN_PAGE = 'file:///app/out/renderer/index.html'

let host: SwitchboardHost | undefined
afterEach(async () => {
  await host?.dispose()
  host = undefined
})

function setup() {
  const opened: number[] = []
  host = new SwitchboardHost({
    workerFile: WORKER_FILE,
    loadAgentFile: LOAD_AGENT_FILE,
    config: { listeners: [{ codec: 'line', host: '127.0.0.1', port: 0 }], workers: 0, workUs: 0, cluster: null, limits: DEFAULT_LIMITS },
    openClientWindow: () => opened.push(1)
  })
  const { ipcMain, handlers } = fakeIpcMain()
  serveContractOverIpc(ipcMain, host, (url) => url === OWN_PAGE)
  const callFrom = (url: string, contents: WebContentsLike, name: string, ...args: unknown[]) =>
    handlers.get(ipcChannel(name as never))!({ sender: contents, senderFrame: { url } }, ...args)
  const call = (contents: WebContentsLike, name: string, ...args: unknown[]) => callFrom(OWN_PAGE, contents, name, ...args)
  return { handlers, call, callFrom, opened }
}

describe('the contract over Electron IPC', () => {
  it('registers one handler per call of the contract', () => {
    const { handlers } = setup()
    expect([...handlers.keys()].sort()).toEqual(CALL_NAMES.map((name) => ipcChannel(name)).sort())
  })

  it('runs calls on the host and sends events to the window that became a peer', async () => {
    const { call } = setup()
    const window = fakeWebContents(1)
    const state = (await call(window.contents, 'startServer', host!.serverState.config)) as ServerState
    expect(state.status).toBe('running')
    const channels = window.sent.map((m) => m.channel)
    expect(channels).toContain(ipcChannel('onServerState'))
    await waitFor('metrics', () => window.sent.some((m) => m.channel === ipcChannel('onMetrics')), 2000)
  })

  it('refuses every call from a frame that is not one of the app’s pages, before the host sees it', async () => {
    const { callFrom } = setup()
    const window = fakeWebContents(1)
    await expect(Promise.resolve().then(() => callFrom('https://example.com/', window.contents, 'startServer', host!.serverState.config))).rejects.toThrow(
      /refused: startServer from https:\/\/example.com\//
    )
    expect(host!.serverState.status).toBe('stopped')
    expect(window.sent).toEqual([])
  })

  it('refuses arguments that do not fit the contract, and does nothing', async () => {
    const { call } = setup()
    const window = fakeWebContents(1)
    await expect(call(window.contents, 'startServer', { listeners: [], workers: 1, workUs: 0 })).rejects.toThrow(/listeners: expected 1 to 8 listeners/)
    await expect(call(window.contents, 'kickSession', '7')).rejects.toThrow(/sessionId: expected a whole number/)
    await expect(call(window.contents, 'startServer', { ...host!.serverState.config, workUs: 1_000_000 })).rejects.toThrow(/workUs: expected a whole number from 0 to 100000/)
    await expect(call(window.contents, 'startLoad', { targets: [{ host: '127.0.0.1', port: 7000 }], clients: 0 })).rejects.toThrow(/config: clients must be a whole number from 1/)
    await expect(call(window.contents, 'connectClient', { host: 'x', port: 1, codec: 'line', extra: 1 })).rejects.toThrow(/only host, port, codec/)
    await expect(call(window.contents, 'startServer', { listeners: [{ codec: 'http', host: '127.0.0.1', port: 1 }], workers: 0, workUs: 0 })).rejects.toThrow(/codec: expected one of line, asio/)
    expect(host!.serverState.status).toBe('stopped')
  })

  it('refuses a cluster section that is not a Redis address and a node id, and a kick for a malformed node', async () => {
    const { call } = setup()
    const window = fakeWebContents(1)
    const config = host!.serverState.config
    const withCluster = (cluster: unknown) => call(window.contents, 'startServer', { ...config, cluster })
    const { cluster: _, ...withoutCluster } = config
    await expect(call(window.contents, 'startServer', withoutCluster)).rejects.toThrow(/config\.cluster: expected null or an object/)
    for (const redis of ['http://127.0.0.1:6379', 'redis://127.0.0.1', 'redis://127.0.0.1:0', 'redis://127.0.0.1:65536', 'redis://user:secret@127.0.0.1:6379', 'redis://bad host:6379', 'redis://127.0.0.1:6379/x', 6379]) {
      await expect(withCluster({ redis, nodeId: 'a' })).rejects.toThrow(/config\.cluster\.redis: expected redis:\/\/host:port/)
    }
    for (const nodeId of ['', 'n'.repeat(33), 'a b', 'a:b', 'ü', 7]) {
      await expect(withCluster({ redis: 'redis://127.0.0.1:6379', nodeId })).rejects.toThrow(/config\.cluster\.nodeId: expected 1 to 32 of/)
    }
    await expect(withCluster({ redis: 'redis://127.0.0.1:6379', nodeId: 'a', password: 'x' })).rejects.toThrow(/only redis, nodeId/)
    await expect(withCluster('redis://127.0.0.1:6379')).rejects.toThrow(/config\.cluster: expected null or an object/)
    await expect(call(window.contents, 'kickSession', 7, 'node one')).rejects.toThrow(/node: expected 1 to 32 of/)
    await expect(call(window.contents, 'kickSession', 7, 3)).rejects.toThrow(/node: expected 1 to 32 of/)
    expect(host!.serverState.status).toBe('stopped')
  })

  it('lets through a cluster section and a node as given, and no node as none', () => {
    const config = { listeners: [{ codec: 'line', host: '127.0.0.1', port: 0 }], workers: 0, workUs: 0, limits: DEFAULT_LIMITS }
    for (const redis of ['redis://127.0.0.1:6379', 'redis://localhost:6380/2', 'redis://redis.internal:1', 'redis://[::1]:6379/15']) {
      const cluster = { redis, nodeId: 'node_B-2' }
      expect(validateCall('startServer', [{ ...config, cluster }])).toEqual([{ ...config, cluster }])
    }
    expect(validateCall('startServer', [{ ...config, cluster: null }])).toEqual([{ ...config, cluster: null }])
    expect(validateCall('kickSession', [7, 'n'.repeat(32)])).toEqual([7, 'n'.repeat(32)])
    expect(validateCall('kickSession', [7])).toEqual([7])
    expect(validateCall('kickSession', [7, undefined])).toEqual([7])
    // What a trailing undefined becomes on the browser's JSON wire.
    expect(validateCall('kickSession', [7, null])).toEqual([7])
  })

  it('gives each window its own client, and closes it with the window', async () => {
    const { call, opened } = setup()
    const one = fakeWebContents(1)
    const two = fakeWebContents(2)
    const { bound } = (await call(one.contents, 'startServer', host!.serverState.config)) as ServerState
    const config = { host: '127.0.0.1', port: bound[0].port, codec: 'line' }
    expect(((await call(one.contents, 'connectClient', config)) as ClientState).status).toBe('connected')
    expect(((await call(two.contents, 'connectClient', config)) as ClientState).status).toBe('connected')
    const watcher = await TestClient.connect({ port: bound[0].port })
    await watcher.expect(/^WELCOME /)
    await call(one.contents, 'sendClient', 'NICK one')
    await call(two.contents, 'sendClient', 'NICK two')
    await watcher.until('both renames', (lines) => lines.some((l) => l.endsWith(' one')) && lines.some((l) => l.endsWith(' two')))
    // Frames reach only the window whose client got them.
    await waitFor('frames for window one', () => one.sent.some((m) => m.channel === ipcChannel('onClientFrames')))
    const framesOf = (w: typeof one) =>
      w.sent.filter((m) => m.channel === ipcChannel('onClientFrames')).flatMap((m) => (m.payload as { frames: { text: string }[] }).frames.map((f) => f.text))
    await waitFor('window two sees its own rename', () => framesOf(two).some((t) => / two$/.test(t) && t.startsWith('NICK')))
    expect(framesOf(one).some((t) => t.startsWith('WELCOME'))).toBe(true)
    expect(framesOf(one).filter((t) => t.startsWith('WELCOME'))).toHaveLength(1)

    two.destroy()
    await watcher.expect('LEFT lobby two')
    await call(one.contents, 'openClientWindow')
    expect(opened).toHaveLength(1)
    await watcher.close()
  })
})
