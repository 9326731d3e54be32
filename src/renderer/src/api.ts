import { createApiProxy, type SwitchboardApi } from '../../shared/contract'
import { createWebSocketTransport } from './transport/websocket'

/**
 * The contract, however it reaches this page: Electron's preload exposes it as window.switchboard;
 * in a browser it travels over a WebSocket to the web host. Nothing else in the renderer knows which.
 */
export function getApi(): SwitchboardApi {
  if (window.switchboard) return window.switchboard
  return {
    ...createApiProxy(createWebSocketTransport(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`)),
    // In a browser a client window is a new tab: it opens its own WebSocket, so it owns its own client.
    openClientWindow: async () => {
      window.open(`${location.pathname}#client`, '_blank')
    }
  }
}
