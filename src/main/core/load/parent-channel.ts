import type { FromAgent, ToAgent } from './messages'

/** Electron's `process.parentPort` in a utility process, as much of it as an agent uses. */
interface ParentPortLike {
  on(event: 'message', listener: (event: { data: ToAgent }) => void): void
  postMessage(message: FromAgent): void
}

/** An agent's line to its coordinator, however it was started; null if nobody started it. */
export interface ParentChannel {
  send(message: FromAgent): void
  onMessage(listener: (message: ToAgent) => void): void
}

/**
 * A utility process (Electron) talks over `process.parentPort`; a forked child (Node) over the IPC channel,
 * and leaves when the coordinator closes it. Under Electron the utility process ends with its parent.
 */
export function connectToParent(): ParentChannel | null {
  const port = (process as { parentPort?: ParentPortLike }).parentPort
  if (port) {
    return {
      send: (message) => port.postMessage(message),
      onMessage: (listener) => port.on('message', (event) => listener(event.data))
    }
  }
  if (!process.send) return null
  // The coordinator gone (or done with us) means the run is over: never leave an orphan generator behind.
  process.on('disconnect', () => process.exit(0))
  return {
    send: (message) => process.send!(message),
    onMessage: (listener) => process.on('message', listener)
  }
}
