// The built Electron main process (out/main/index.js), run under plain Node with `electron` resolved to a
// recording stand-in (test/fixtures/electron/): the Electron binary cannot be downloaded here.
import { fork, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CALL_NAMES, DEFAULT_SERVER_CONFIG, ipcChannel, type ServerConfig, type ServerState } from '../src/shared/contract'
import type { LoadReport } from '../src/shared/load'
import { TestClient, waitFor } from './helpers'

const MAIN = resolve('out/main/index.js')
const REGISTER = resolve('test/fixtures/electron/register.mjs')

interface Record {
  what: string
  [detail: string]: unknown
}

/** One run of the main process, with what the stand-in recorded and a way to send it commands. */
class MainProcess {
  readonly records: Record[] = []
  readonly exited: Promise<{ code: number | null; signal: string | null }>
  stdout = ''
  private nextId = 1
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>()

  constructor(
    readonly child: ChildProcess,
    readonly userData: string
  ) {
    child.on('message', (message: { type: string; id?: number; result?: unknown; error?: string } & Record) => {
      if (message.type === 'record') return void this.records.push(message)
      const waiter = this.pending.get(message.id!)!
      this.pending.delete(message.id!)
      if (message.error !== undefined) waiter.reject(new Error(message.error))
      else waiter.resolve(message.result)
    })
    child.stdout!.on('data', (chunk: Buffer) => (this.stdout += chunk))
    child.stderr!.on('data', (chunk: Buffer) => (this.stdout += chunk))
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  }

  /**
   * Launches the app. Its userData holds settings that put the server on free ports (the defaults, 7000 and
   * 7001, could be taken), unless `settings` says otherwise; `userData` reuses an earlier launch's.
   */
  static start({ env = {}, userData, settings = PORT_0_SETTINGS }: { env?: NodeJS.ProcessEnv; userData?: string; settings?: string | null } = {}): MainProcess {
    if (!userData) {
      userData = mkdtempSync(join(tmpdir(), 'sb-userdata-'))
      if (settings !== null) writeFileSync(join(userData, 'settings.json'), settings)
    }
    const child = fork(MAIN, [], {
      execArgv: ['--import', REGISTER],
      env: { ...process.env, STAND_IN_USER_DATA: userData, ELECTRON_RENDERER_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc']
    })
    const main = new MainProcess(child, userData)
    running.push(main)
    return main
  }

  command<T = unknown>(command: string, args: object = {}): Promise<T> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      this.child.send({ id, command, ...args })
    })
  }

  invoke<T = unknown>(windowId: number, call: string, args: unknown[] = [], url?: string): Promise<T> {
    return this.command<T>('invoke', { windowId, channel: ipcChannel(call as never), args, url })
  }

  all(what: string): Record[] {
    return this.records.filter((r) => r.what === what)
  }

  async first(what: string, predicate: (r: Record) => boolean = () => true): Promise<Record> {
    await waitFor(what, () => this.records.some((r) => r.what === what && predicate(r)), 10_000)
    return this.records.find((r) => r.what === what && predicate(r))!
  }

  /** The control panel (the first window), asked over IPC as its page would, once its server has started. */
  async panel(): Promise<{ id: number; state: ServerState }> {
    const id = (await this.first('BrowserWindow')).id as number
    let state = await this.invoke<ServerState>(id, 'getServerState')
    while (state.status === 'stopped' && state.error === null) state = await this.invoke<ServerState>(id, 'getServerState')
    while (state.status === 'starting') state = await this.invoke<ServerState>(id, 'getServerState')
    return { id, state }
  }
}

/** How often the host began disposing, from the log the main process prints to its console. */
const disposals = (main: MainProcess) => main.stdout.match(/shutdown control room closing: stopping the server/g)?.length ?? 0

/** The quit sequence as the stand-in recorded it. */
const quitSteps = (main: MainProcess) =>
  main.records
    .filter((r) => ['app.quit', 'before-quit', 'window closed', 'will-quit', 'quit'].includes(r.what))
    .map((r) => (r.what === 'before-quit' && r.prevented ? 'before-quit (prevented)' : r.what))

const PORT_0: ServerConfig = { ...DEFAULT_SERVER_CONFIG, listeners: DEFAULT_SERVER_CONFIG.listeners.map((listener) => ({ ...listener, port: 0 })) }
const PORT_0_SETTINGS = JSON.stringify({ version: 1, server: PORT_0, load: null })

/** Every item of the application menu, the menus' own entries and their submenus' items alike. */
async function menuItems(main: MainProcess): Promise<Record[]> {
  const { template } = await main.first('Menu.setApplicationMenu')
  return (template as Record[]).flatMap((menu) => [menu, ...((menu.submenu as Record[] | undefined) ?? [])])
}

const running: MainProcess[] = []
afterEach(() => {
  for (const main of running.splice(0)) {
    main.child.kill('SIGKILL')
    rmSync(main.userData, { recursive: true, force: true })
  }
})

describe('the Electron main process, built, under a recording stand-in', () => {
  it('registers every call of the contract, sandboxes its window, and serves TCP and IPC', async () => {
    const main = MainProcess.start()
    const { id, state } = await main.panel()
    expect(main.all('ipcMain.handle').map((r) => r.channel).sort()).toEqual(CALL_NAMES.map((name) => ipcChannel(name)).sort())

    const { options } = await main.first('BrowserWindow')
    const preferences = (options as { webPreferences: Record }).webPreferences
    expect(preferences).toMatchObject({ sandbox: true, contextIsolation: true, nodeIntegration: false })
    expect(existsSync(preferences.preload as string)).toBe(true)

    expect(state.status).toBe('running')
    const line = state.bound.find((listener) => listener.codec === 'line')!
    const client = await TestClient.connect({ port: line.port })
    await client.expect(/^WELCOME /)
    await client.close()

    const viaIpc = await main.invoke<ServerState>(id, 'getServerState')
    expect(viaIpc.bound).toEqual(state.bound)
  })

  it('quits once when its only window closes: asked twice, the host is disposed once, and the process ends by itself', async () => {
    const main = MainProcess.start()
    const { id } = await main.panel()
    await main.command('closeWindow', { windowId: id })
    expect(await main.exited).toEqual({ code: 0, signal: null })
    expect(disposals(main)).toBe(1)
    // The panel's `closed` asks, `window-all-closed` asks again, and once disposed the shell asks a last time.
    expect(quitSteps(main)).toEqual([
      'window closed',
      'app.quit',
      'before-quit (prevented)',
      'app.quit',
      'before-quit (prevented)',
      'app.quit',
      'before-quit',
      'will-quit',
      'quit'
    ])
  })

  it('quits from the menu with client windows open: disposed first, then the windows close, in Electron’s order', async () => {
    const main = MainProcess.start()
    await main.panel()
    await main.command('menuClick', { label: 'New Client Window' })
    await main.first('load', (r) => String(r.url).endsWith('#client'))
    await main.command('menuClick', { label: 'Quit' })
    expect(await main.exited).toEqual({ code: 0, signal: null })
    expect(disposals(main)).toBe(1)
    // The panel's `closed` handler asks again as it closes; a quit under way ignores that.
    expect(quitSteps(main)).toEqual(['app.quit', 'before-quit (prevented)', 'app.quit', 'before-quit', 'window closed', 'app.quit', 'window closed', 'will-quit', 'quit'])
  })

  it('refuses IPC from any page but its own, and navigation, window.open and permissions for all', async () => {
    const main = MainProcess.start()
    const { id } = await main.panel()
    await expect(main.invoke(id, 'getServerState', [], 'https://example.com/')).rejects.toThrow(/refused: getServerState from https:\/\/example.com\//)
    await expect(main.invoke(id, 'stopServer', [], 'file:///tmp/other.html')).rejects.toThrow(/refused/)
    expect((await main.invoke<ServerState>(id, 'getServerState')).status).toBe('running')
    expect(await main.command('navigate', { windowId: id, url: 'https://example.com/' })).toEqual({ prevented: true })
    expect(await main.command('windowOpen', { windowId: id, url: 'https://example.com/' })).toEqual({ action: 'deny' })
    expect(await main.command('permission', { windowId: id, permission: 'media' })).toBe(false)
  })

  it('is one instance: a second launch focuses the first, and quits at once when it is the second', async () => {
    const main = MainProcess.start()
    const { id } = await main.panel()
    await main.command('secondInstance')
    await main.first('window focus', (r) => r.id === id)
    const second = MainProcess.start({ env: { STAND_IN_LOCK: 'taken' } })
    expect(await second.exited).toEqual({ code: 0, signal: null })
    expect(second.all('BrowserWindow')).toEqual([])
    expect(second.all('ipcMain.handle')).toEqual([])
    expect(second.all('app.quit')).toHaveLength(1)
  })

  it('runs load agents as utility processes, talking over parentPort', async () => {
    const main = MainProcess.start()
    const { id, state } = await main.panel()
    const line = state.bound.find((listener) => listener.codec === 'line')!
    await main.invoke(id, 'startLoad', [{ targets: [{ host: '127.0.0.1', port: line.port }], clients: 6, messages: 20, agents: 2 }])
    const report = (await main.first('webContents.send', (r) => r.channel === ipcChannel('onLoadReport'))).payload as LoadReport
    expect(report.complete).toBe(true)
    expect(report.deliveries).toBe(6 * 20 * 6)
    expect(main.all('utilityProcess.fork').map((r) => r.modulePath)).toEqual([resolve('out/main/load-agent.js'), resolve('out/main/load-agent.js')])
    await waitFor('both agents gone', () => main.all('utility exit').length === 2)
  })

  it('keeps its settings between launches in userData, and replaces an unusable file with the defaults', async () => {
    const first = MainProcess.start()
    const { id } = await first.panel()
    const changed: ServerConfig = { ...PORT_0, workers: 1, workUs: 25 }
    await first.invoke(id, 'stopServer')
    await first.invoke(id, 'startServer', [changed])
    await first.command('closeWindow', { windowId: id })
    await first.exited
    const second = MainProcess.start({ userData: first.userData })
    const { id: secondId, state } = await second.panel()
    expect(state.config).toMatchObject({ workers: 1, workUs: 25 })
    await second.command('closeWindow', { windowId: secondId })
    await second.exited

    const broken = MainProcess.start({ settings: '{"version": 1, "server": ' })
    const { id: brokenId } = await broken.panel()
    // The window that attached (by calling) was sent the log so far, the problem with the file among it.
    const { payload } = await broken.first('webContents.send', (r) => r.channel === ipcChannel('onLog'))
    expect(payload).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'error', text: expect.stringMatching(/settings file .*settings\.json could not be used/) })]))
    expect(readFileSync(join(broken.userData, 'settings.json.bad'), 'utf8')).toBe('{"version": 1, "server": ')
    expect((await broken.invoke<ServerState>(brokenId, 'getServerState')).config.listeners.map((l) => l.port)).toEqual([7000, 7001])
  })

  it('runs the last run again from the menu, at the listener as bound now, after a relaunch moved it', async () => {
    const first = MainProcess.start()
    const { id, state } = await first.panel()
    const line = state.bound.find((listener) => listener.codec === 'line')!
    await first.invoke(id, 'startLoad', [{ targets: [{ host: '127.0.0.1', port: line.port }], clients: 4, messages: 10, agents: 1 }])
    await first.first('webContents.send', (r) => r.channel === ipcChannel('onLoadReport'))
    await first.command('closeWindow', { windowId: id })
    await first.exited

    const second = MainProcess.start({ userData: first.userData })
    const { id: secondId, state: now } = await second.panel()
    const moved = now.bound.find((listener) => listener.codec === 'line')!.port
    expect(moved).not.toBe(line.port)
    await second.command('menuClick', { label: 'Run Load' })
    const report = (await second.first('webContents.send', (r) => r.channel === ipcChannel('onLoadReport'))).payload as LoadReport
    expect(report.config).toMatchObject({ clients: 4, messages: 10, targets: [{ host: '127.0.0.1', port: moved }] })
    expect(report.complete).toBe(true)
    await second.command('closeWindow', { windowId: secondId })
  })

  it('has the menu people expect, with their shortcuts, and reload and DevTools in development only', async () => {
    const main = MainProcess.start()
    await main.panel()
    const items = await menuItems(main)
    const shortcut = (label: string) => items.find((item) => item.label === label)?.accelerator
    expect(shortcut('New Client Window')).toBe('CmdOrCtrl+N')
    expect(shortcut('Start/Stop Server')).toBeTruthy()
    expect(shortcut('Run Load')).toBeTruthy()
    expect(shortcut('Quit')).toMatch(/Q$/)
    expect(items.map((item) => item.role)).toEqual(expect.arrayContaining(['reload', 'toggleDevTools', 'windowMenu']))

    const packaged = MainProcess.start({ env: { STAND_IN_PACKAGED: '1' } })
    await packaged.panel()
    const roles = (await menuItems(packaged)).map((item) => item.role)
    expect(roles).not.toContain('reload')
    expect(roles).not.toContain('toggleDevTools')
  })
})
