// Entry of the preload script. The typed contract between main and renderer arrives with the control panel.
import { contextBridge } from 'electron'

contextBridge.exposeInMainWorld('switchboard', { version: 1 })
