import { encodeAsio } from '../codec/asio'
import type { Session } from './session'

/** Asio's chat_server keeps the last 100 messages for newcomers (chat_room::max_recent_msgs). */
export const ASIO_HISTORY = 100

/**
 * The chat room of one asio listener, as Asio's chat example has it: every body is relayed to
 * every participant, sender included, and a newcomer first gets the recent history.
 */
export class AsioRelay {
  private readonly participants = new Set<Session>()
  private readonly history: Buffer[] = []

  join(session: Session): void {
    this.participants.add(session)
    for (const frame of this.history) session.send(frame)
  }

  leave(session: Session): void {
    this.participants.delete(session)
  }

  relay(body: Buffer): void {
    const frame = encodeAsio(body)
    this.history.push(frame)
    if (this.history.length > ASIO_HISTORY) this.history.shift()
    for (const participant of this.participants) participant.send(frame)
  }
}
