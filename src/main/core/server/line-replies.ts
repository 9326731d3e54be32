import { lineCodec } from '../codec/line'
import type { Command, ErrorCode } from '../protocol/commands'
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

  /**
   * What needs no room, answered at once: PING, HELP, QUIT, a refused line, an empty one. False for the rest.
   * (A cluster node answers its PINGs in order with its Redis steps instead.)
   */
  protected answerAnywhere(session: Session, command: Command): boolean {
    switch (command.verb) {
      case 'PING':
        this.tell(session, reply.pong(command.token))
        return true
      case 'HELP':
        this.help(session)
        return true
      case 'QUIT':
        this.quit(session, command.reason)
        return true
      case 'ERR':
        this.refuse(session, command.code, command.text)
        return true
      case 'NOOP':
        return true
      default:
        return false
    }
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
