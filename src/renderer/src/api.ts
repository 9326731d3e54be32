import { createApiProxy, type SwitchboardApi } from '../../shared/contract'
import { createWebSocketTransport } from './transport/websocket'

/**
 * The contract, however it reaches this page: Electron's preload exposes it as window.switchboard;
 * in a browser it travels over a WebSocket to the web host, and `onLost` hears if that connection ends.
 * Nothing else in the renderer knows which.
 */
export function getApi(onLost: (reason: string) => void): SwitchboardApi {
  if (window.switchboard) return window.switchboard
  return {
    ...createApiProxy(createWebSocketTransport(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`, onLost)),
    // In a browser a client window is a new tab: it opens its own WebSocket, so it owns its own client.
    openClientWindow: async () => {
      window.open(`${location.pathname}#client`, '_blank')
    }
  }
}
