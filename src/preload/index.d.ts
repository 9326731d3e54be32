import type { SwitchboardApi } from '../shared/contract'

declare global {
  interface Window {
    /** Present in Electron (exposed by the preload); absent in a browser, where a WebSocket carries the contract. */
    switchboard?: SwitchboardApi
  }
}

export {}
