import { encodeAsio } from '../codec/asio'
import type { Command } from '../protocol/commands'
import type { ChatProtocol } from './chat-protocol'
import type { Session } from './session'

/** Asio's chat_server keeps the last 100 messages for newcomers (chat_room::max_recent_msgs). */
export const ASIO_HISTORY = 100

const NO_NAMES = { nick: null, room: null }

/**
 * The chat room of one asio listener, as Asio's chat example has it: every body is relayed to
 * every participant, sender included, and a newcomer first gets the recent history. The framing has
 * no error or goodbye message, so refusals and farewells are silent: the connection just closes.
 */
export class AsioRelay implements ChatProtocol {
  readonly parses = false
  private readonly participants = new Set<Session>()
  private readonly history: Buffer[] = []

  ignores(): boolean {
    return false
  }

  join(session: Session): void {
    this.participants.add(session)
    for (const frame of this.history) session.send(frame)
  }

  leave(session: Session): void {
    this.participants.delete(session)
  }

  commit(_session: Session, body: Buffer, command: Command | null): void {
    // A body is never parsed, so a command here can only be FRAME_FAILED: that body is not relayed.
    if (command !== null) return
    const frame = encodeAsio(body)
    this.history.push(frame)
    if (this.history.length > ASIO_HISTORY) this.history.shift()
    for (const participant of this.participants) participant.send(frame)
  }

  refuse(): void {}

  farewell(): void {}

  describe(): { nick: null; room: null } {
    return NO_NAMES
  }
}
