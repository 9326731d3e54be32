// The browser transport's wire format (JSON text frames), shared by its two ends: the web host and the
// renderer's WebSocket transport. Nothing else depends on it; everything else speaks the contract.
import type { CallName, EventName } from './contract'

export interface CallMessage {
  id: number
  call: CallName
  args: unknown[]
}

/**
 * A call's failure. A message refused before its id could be trusted is answered with id null (as JSON-RPC
 * does): echoing a guess could settle some other pending call.
 */
export type ErrorReply = { id: number; error: string } | { id: null; error: string }

export type ReplyMessage = { id: number; result: unknown } | ErrorReply

export interface EventMessage {
  event: EventName
  payload: unknown
}

/** A call to run, or the reply refusing a message that is not one. */
export type DecodedCall = { ok: true; call: CallMessage } | { ok: false; refusal: ErrorReply }

const refuse = (refusal: ErrorReply): DecodedCall => ({ ok: false, refusal: { ...refusal, error: `malformed call: ${refusal.error}` } })

/** What the call's arguments are is the host's to check; this only checks the message is shaped like a call. */
export function decodeCall(text: string): DecodedCall {
  let message: unknown
  try {
    message = JSON.parse(text)
  } catch {
    return refuse({ id: null, error: 'not JSON' })
  }
  const { id, call, args } = (message ?? {}) as Partial<CallMessage>
  // Past 2^53 JSON numbers lose digits: such an id may name another call, so it is not echoed.
  if (!Number.isSafeInteger(id)) return refuse({ id: null, error: 'id must be a safe integer' })
  if (typeof call !== 'string') return refuse({ id: id!, error: 'call must be a string' })
  if (!Array.isArray(args)) return refuse({ id: id!, error: 'args must be a list' })
  return { ok: true, call: { id: id!, call, args } }
}

export const encodeCall = (id: number, call: CallName, args: unknown[]): string => JSON.stringify({ id, call, args })

export const encodeReply = (reply: ReplyMessage): string => JSON.stringify(reply)

export const encodeEvent = (event: EventName, payload: unknown): string => JSON.stringify({ event, payload })
