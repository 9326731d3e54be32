// Entry of Electron's main process: a thin shell that hosts the core server and opens the window.
import { join } from 'node:path'
import { app, BrowserWindow } from 'electron'
import { ChatServer } from './core/server/server'
import { parseListener } from './core/server/options'

const server = new ChatServer({
  listeners: [parseListener('line:7000'), parseListener('asio:7001')],
  workerFile: join(import.meta.dirname, 'logic-worker.js')
})

function createWindow(): void {
  const window = new BrowserWindow({
    width: 1200,
    height: 800,
    webPreferences: {
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false
    }
  })
  if (process.env.ELECTRON_RENDERER_URL) window.loadURL(process.env.ELECTRON_RENDERER_URL)
  else window.loadFile(join(import.meta.dirname, '../renderer/index.html'))
}

app.whenReady().then(async () => {
  await server.start()
  createWindow()
})

// Quit only after the server has flushed its sessions and closed its pool.
let stopped = false
app.on('before-quit', (event) => {
  if (stopped) return
  event.preventDefault()
  server.stop().finally(() => {
    stopped = true
    app.quit()
  })
})

app.on('window-all-closed', () => app.quit())
