// The browser transport's wire format (JSON text frames), shared by its two ends: the web host and the
// renderer's WebSocket transport. Nothing else depends on it; everything else speaks the contract.
import type { CallName, EventName } from './contract'

export interface CallMessage {
  id: number
  call: CallName
  args: unknown[]
}

export type ReplyMessage = { id: number; result: unknown } | { id: number; error: string }

export interface EventMessage {
  event: EventName
  payload: unknown
}

/** Null for anything that is not a well-formed call; what the call's arguments are is the host's to check. */
export function decodeCall(text: string): CallMessage | null {
  let message: unknown
  try {
    message = JSON.parse(text)
  } catch {
    return null
  }
  const { id, call, args } = (message ?? {}) as Partial<CallMessage>
  if (!Number.isSafeInteger(id) || typeof call !== 'string' || !Array.isArray(args)) return null
  return { id: id!, call, args }
}

export const encodeCall = (id: number, call: CallName, args: unknown[]): string => JSON.stringify({ id, call, args })

export const encodeReply = (id: number, outcome: { result: unknown } | { error: string }): string =>
  JSON.stringify({ id, ...outcome })

export const encodeEvent = (event: EventName, payload: unknown): string => JSON.stringify({ event, payload })
