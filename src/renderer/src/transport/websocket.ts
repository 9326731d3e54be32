import type { CallArgs, CallName, CallResult, EventName, Transport } from '../../../shared/contract'
import { encodeCall, type EventMessage, type ReplyMessage } from '../../../shared/web-wire'

const LOST = 'the connection to the Switchboard host was lost'

/**
 * The browser's end of the web host's transport: calls as numbered JSON messages, events as they come.
 * `onLost` hears why the connection ended: the host's close reason (too many viewers, shutting down) if it gave one.
 */
export function createWebSocketTransport(url: string, onLost: (reason: string) => void = () => {}): Transport {
  const socket = new WebSocket(url)
  const opened = new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true })
    socket.addEventListener('close', () => reject(new Error('cannot reach the Switchboard host')), { once: true })
  })
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>()
  const listeners = new Map<EventName, Set<(payload: unknown) => void>>()
  let nextId = 1

  socket.addEventListener('message', (message) => {
    const data = JSON.parse(String(message.data)) as ReplyMessage | EventMessage
    if ('event' in data) {
      listeners.get(data.event)?.forEach((listener) => listener(data.payload))
      return
    }
    if (data.id === null) {
      // The host could not tell which call it refused; we only send well-formed calls, so this is our bug.
      console.error(`the Switchboard host refused a message: ${data.error}`)
      return
    }
    const call = pending.get(data.id)
    pending.delete(data.id)
    if ('error' in data) call?.reject(new Error(data.error))
    else call?.resolve(data.result)
  })
  socket.addEventListener('close', (event) => {
    for (const call of pending.values()) call.reject(new Error(LOST))
    pending.clear()
    onLost(event.reason || LOST)
  })

  return {
    invoke: async <C extends CallName>(call: C, args: CallArgs<C>) => {
      await opened
      const id = nextId++
      return new Promise<CallResult<C>>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
        socket.send(encodeCall(id, call, args))
      })
    },
    subscribe: (event, listener) => {
      const set = listeners.get(event) ?? new Set()
      listeners.set(event, set)
      set.add(listener as (payload: unknown) => void)
      return () => set.delete(listener as (payload: unknown) => void)
    }
  }
}
