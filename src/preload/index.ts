// Entry of the preload script: exposes the contract to the renderer as window.switchboard, nothing more.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron'
import { createApiProxy, ipcChannel } from '../shared/contract'

contextBridge.exposeInMainWorld(
  'switchboard',
  createApiProxy({
    invoke: (call, args) => ipcRenderer.invoke(ipcChannel(call), ...args),
    subscribe: (event, listener) => {
      const forward = (_: IpcRendererEvent, payload: Parameters<typeof listener>[0]) => listener(payload)
      ipcRenderer.on(ipcChannel(event), forward)
      return () => ipcRenderer.off(ipcChannel(event), forward)
    }
  })
)
