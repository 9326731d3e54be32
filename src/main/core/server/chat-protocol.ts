import type { Command, ErrorCode } from '../protocol/commands'
import type { Session } from './session'

/**
 * What a listener's protocol does with its sessions: the line protocol's rooms and nicks (LineChat), or
 * Asio's one relayed room (AsioRelay). The server holds one per listener and never asks which it is.
 */
export interface ChatProtocol {
  /** Frames are parsed as line-protocol commands in the logic step; otherwise they pass through as opaque bodies. */
  readonly parses: boolean
  /** A frame not worth a place in the logic queue. */
  ignores(frame: Buffer): boolean
  /**
   * A new session (on a server with users, once it logged in): welcome it and put it in its room, as
   * `nick` if that is free, else as a guest.
   */
  join(session: Session, nick?: string): void
  /** A session is gone: take it out of its room. */
  leave(session: Session): void
  /**
   * Applies one committed frame, with its command when the frame was parsed (or FRAME_FAILED). A promise
   * says it is still being applied (a cluster waits on Redis); it settles, never rejects, when done.
   */
  commit(session: Session, frame: Buffer, command: Command | null): Promise<unknown> | void
  /** Tells a session what was refused or why it is being closed; silent where the framing has no such message. */
  refuse(session: Session, code: ErrorCode, text: string): void
  /** The last thing a session hears before the server closes it on purpose (QUIT, kick, shutdown). */
  farewell(session: Session, reason: string): void
  /** The session's nick and room, for metrics; null where the protocol has none. */
  describe(session: Session): { nick: string | null; room: string | null }
}
