import { lineCodec } from '../codec/line'
import type { ErrorCode } from '../protocol/commands'
import { reply } from '../protocol/replies'
import type { Session } from './session'

/** What the line protocol says the same way whether its rooms are this process's (LineChat) or a cluster's. */
export abstract class LineReplies {
  readonly parses = true

  /** An empty line means nothing; letting it in would make a stream of newlines a queue entry per byte. */
  ignores(frame: Buffer): boolean {
    return frame.length === 0
  }

  refuse(session: Session, code: ErrorCode, text: string): void {
    this.tell(session, reply.err(code, text))
  }

  farewell(session: Session, reason: string): void {
    this.tell(session, reply.bye(reason))
  }

  protected help(session: Session): void {
    this.tell(session, reply.help())
  }

  /** QUIT: BYE with the reason the client gave, then the close. */
  protected quit(session: Session, reason: string): void {
    this.farewell(session, reason || 'quit')
    session.end(reason ? `quit: ${reason}` : 'quit')
  }

  protected tell(session: Session, line: string): void {
    session.send(lineCodec.encode(line))
  }
}
