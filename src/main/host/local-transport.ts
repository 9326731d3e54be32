import { createApiProxy, type EventName, type EventPayload, type SwitchboardApi } from '../../shared/contract'
import type { SwitchboardHost } from './host'

/**
 * The contract in-process, with no wire in between: for the CLI and for tests that drive the
 * real host. Arguments still go through the host's validation, as from any other peer.
 */
export function connectLocal(host: SwitchboardHost): { api: SwitchboardApi; close(): void } {
  const listeners = new Map<EventName, Set<(payload: never) => void>>()
  // Delivered a microtask later, as over a wire: what the host sends as it attaches the peer (its state,
  // the log backlog) reaches the listeners subscribed right after connectLocal returns.
  const peer = host.attach({
    send: (event, payload) => queueMicrotask(() => listeners.get(event)?.forEach((listener) => listener(payload as never)))
  })
  const api = createApiProxy({
    invoke: (call, args) => peer.invoke(call, args) as never,
    subscribe: <E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void) => {
      const set = listeners.get(event) ?? new Set()
      listeners.set(event, set)
      set.add(listener as (payload: never) => void)
      return () => set.delete(listener as (payload: never) => void)
    }
  })
  return { api, close: () => host.detach(peer) }
}
