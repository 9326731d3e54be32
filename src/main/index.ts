// Entry of Electron's main process: a thin shell. The host and everything under it run in plain Node;
// this file only makes windows, maps the contract onto IPC, and stops the server before quitting.
import { join } from 'node:path'
import { app, BrowserWindow, ipcMain } from 'electron'
import { SwitchboardHost } from './host/host'
import { serveContractOverIpc } from './ipc'

const here = import.meta.dirname

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
  if (process.env.ELECTRON_RENDERER_URL) window.loadURL(`${process.env.ELECTRON_RENDERER_URL}${hash ? `#${hash}` : ''}`)
  else window.loadFile(join(here, '../renderer/index.html'), { hash })
  return window
}

const host = new SwitchboardHost({
  workerFile: join(here, 'logic-worker.js'),
  loadAgentFile: join(here, 'load-agent.js'),
  openClientWindow: () => createWindow('client')
})
serveContractOverIpc(ipcMain, host)

// No navigation away from our pages and no window.open: client windows are opened by the host only.
app.on('web-contents-created', (_, contents) => {
  contents.on('will-navigate', (event) => event.preventDefault())
  contents.setWindowOpenHandler(() => ({ action: 'deny' }))
})

app.whenReady().then(async () => {
  // The control panel is the app: closing it quits, client windows included.
  createWindow('panel').on('closed', () => app.quit())
  await host.startServer(host.serverState.config)
})

// Quit only after the server has stopped accepting, flushed its sessions and closed its pool.
let disposed = false
app.on('before-quit', (event) => {
  if (disposed) return
  event.preventDefault()
  host.dispose().finally(() => {
    disposed = true
    app.quit()
  })
})

app.on('window-all-closed', () => app.quit())
