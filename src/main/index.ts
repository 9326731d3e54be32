// Entry of Electron's main process: a thin shell. The host and everything under it run in plain Node;
// this file only makes windows and the menu, maps the contract onto IPC, and stops the server before quitting.
import { join } from 'node:path'
import { app, BrowserWindow, dialog, ipcMain, Menu, session, utilityProcess } from 'electron'
import { reachableHost } from '../shared/load'
import { resolveLoadConfig } from './core/load/config'
import { logToConsole } from './host/console-log'
import { SwitchboardHost } from './host/host'
import { serverFilesFromEnv } from './host/env-files'
import { connectLocal } from './host/local-transport'
import { OPERATOR_REACH } from './host/reach'
import { createSettingsFile } from './host/settings'
import { serveContractOverIpc } from './ipc'
import { menuTemplate } from './shell/menu'
import { ownPages } from './shell/own-pages'
import { unpacked } from './shell/packaged-paths'
import { utilityAgents } from './shell/utility-agents'

/** A quit that has not finished disposing by then is forced: a hung server must not keep the app up forever. */
const QUIT_DEADLINE_MS = 10_000

const here = import.meta.dirname
const rendererFile = join(here, '../renderer/index.html')
const development = !app.isPackaged
// Only while developing: a packaged app told by its environment to load another page would hand it the host.
const devServerUrl = development ? process.env.ELECTRON_RENDERER_URL || undefined : undefined

function createWindow(view: 'panel' | 'client'): BrowserWindow {
  const window = new BrowserWindow({
    width: view === 'panel' ? 1400 : 720,
    height: view === 'panel' ? 900 : 640,
    title: view === 'panel' ? 'Switchboard' : 'Switchboard client',
    backgroundColor: '#11151c',
    webPreferences: {
      preload: join(here, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false
    }
  })
  const hash = view === 'client' ? 'client' : undefined
  if (devServerUrl) void window.loadURL(`${devServerUrl}${hash ? `#${hash}` : ''}`)
  else void window.loadFile(rendererFile, { hash })
  return window
}

function startShell(): void {
  let panel: BrowserWindow | null = null
  const host = new SwitchboardHost({
    workerFile: unpacked(join(here, 'logic-worker.js')),
    loadAgentFile: unpacked(join(here, 'load-agent.js')),
    launchAgent: utilityAgents(utilityProcess),
    openClientWindow: () => createWindow('client'),
    // The app's windows load only its own pages (ipc/own-pages), so what they ask is the operator's word.
    reach: OPERATOR_REACH,
    serverDefaults: serverFilesFromEnv(process.env),
    settings: createSettingsFile(join(app.getPath('userData'), 'settings.json'))
  })
  serveContractOverIpc(ipcMain, host, ownPages(devServerUrl, rendererFile))
  // The main process's console (a terminal it was started from) hears what the CLI's would: faults, shutdown.
  logToConsole(connectLocal(host).api)

  // No navigation away from our pages, no window.open (client windows are opened by the host only), and no
  // permission (camera, notifications...) for anything: a chat control room needs none.
  app.on('web-contents-created', (_, contents) => {
    contents.on('will-navigate', (event) => event.preventDefault())
    contents.setWindowOpenHandler(() => ({ action: 'deny' }))
  })

  // A second launch would fail to bind the same ports: it hands over to this one, which comes forward.
  app.on('second-instance', () => {
    if (!panel) return
    if (panel.isMinimized()) panel.restore()
    panel.focus()
  })

  const fail = (what: string) => (error: unknown) => dialog.showErrorBox(`Switchboard: ${what}`, (error as Error).message)
  const actions = {
    newClientWindow: () => createWindow('client'),
    toggleServer: () => {
      const { status, config } = host.serverState
      void (status === 'running' ? host.stopServer() : host.startServer(config))
    },
    // The traffic lab's last run again. A run over several targets (a cluster's nodes) goes where it went; a
    // run of one goes to this server's listener of its codec as bound now (a port-0 listener moves).
    runLoad: () => {
      const last = host.loadToRepeat
      const codec = last?.codec ?? 'line'
      const listener = host.serverState.bound.find((bound) => bound.codec === codec)
      try {
        if (last && last.targets.length > 1) return void host.startLoad(last)
        if (!listener) throw new Error(`start the server with a ${codec} listener first`)
        host.startLoad(resolveLoadConfig({ ...last, codec, targets: [{ host: reachableHost(listener.host), port: listener.port }] }))
      } catch (error) {
        fail('cannot run load')(error)
      }
    },
    quit: () => app.quit()
  }

  void app.whenReady().then(async () => {
    session.defaultSession.setPermissionRequestHandler((_contents, _permission, grant) => grant(false))
    Menu.setApplicationMenu(Menu.buildFromTemplate(menuTemplate(actions, { development, mac: process.platform === 'darwin' })))
    panel = createWindow('panel')
    // The control panel is the app: closing it quits, client windows included.
    panel.on('closed', () => {
      panel = null
      app.quit()
    })
    await host.startServer(host.serverState.config)
  })

  // Quit only after the server has stopped accepting, flushed its sessions and closed its pool. Quitting is
  // asked for more than once (the panel's close, then all windows closed): it disposes once.
  let disposal: Promise<void> | null = null
  let disposed = false
  app.on('before-quit', (event) => {
    if (disposed) return
    event.preventDefault()
    if (disposal) return
    const deadline = setTimeout(() => {
      console.error(`switchboard: still stopping after ${QUIT_DEADLINE_MS / 1000} s: exiting anyway`)
      app.exit(1)
    }, QUIT_DEADLINE_MS)
    deadline.unref()
    disposal = host.dispose().finally(() => {
      clearTimeout(deadline)
      disposed = true
      app.quit()
    })
  })

  app.on('window-all-closed', () => app.quit())
}

if (app.requestSingleInstanceLock()) startShell()
else app.quit()
