import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron'
import { CALL_NAMES, ipcChannel } from '../../shared/contract'
import type { HostPeer, SwitchboardHost } from '../host/host'

/** The parts of Electron this mapping uses, so a test can stand in for them. */
export type IpcMainLike = Pick<IpcMain, 'handle'>
export type WebContentsLike = Pick<WebContents, 'id' | 'send' | 'isDestroyed' | 'once'>

/**
 * Maps the contract onto ipcMain: one handler per call, routed to the peer of the window that asked,
 * and events sent to that window's webContents. A window becomes a peer on its first call and stops
 * being one when its webContents is destroyed (which closes its chat client). A call from any page but
 * the app's own (`isOwnPage` of the calling frame's URL) is refused before it reaches the host.
 */
export function serveContractOverIpc(ipcMain: IpcMainLike, host: SwitchboardHost, isOwnPage: (url: string | undefined) => boolean): void {
  const peers = new Map<number, HostPeer>()

  const peerOf = (contents: WebContentsLike): HostPeer => {
    let peer = peers.get(contents.id)
    if (peer) return peer
    peer = host.attach({
      send: (event, payload) => {
        if (!contents.isDestroyed()) contents.send(ipcChannel(event), payload)
      }
    })
    peers.set(contents.id, peer)
    contents.once('destroyed', () => {
      host.detach(peers.get(contents.id)!)
      peers.delete(contents.id)
    })
    return peer
  }

  for (const call of CALL_NAMES) {
    ipcMain.handle(ipcChannel(call), (event: IpcMainInvokeEvent, ...args: unknown[]) => {
      const url = event.senderFrame?.url
      if (!isOwnPage(url)) throw new Error(`refused: ${call} from ${url ?? 'a frame that is gone'}, not one of this app's pages`)
      return peerOf(event.sender).invoke(call, args)
    })
  }
}
