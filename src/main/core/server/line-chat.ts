import { lineCodec } from '../codec/line'
import type { Command } from '../protocol/commands'
import { reply } from '../protocol/replies'
import type { Session } from './session'

export const DEFAULT_ROOM = 'lobby'
const GUEST_NICK = /^guest-[0-9]+$/i

/**
 * Rooms and nicks of the line protocol, shared by all line listeners. It lives on the I/O thread
 * only, and is changed only by commits, which arrive in the logic pipeline's order.
 */
export class LineChat {
  private readonly rooms = new Map<string, Set<Session>>()
  /** Keyed by lower-cased nick: nicks differing only in case would be confusing in a room. */
  private readonly nicks = new Map<string, Session>()

  connect(session: Session): void {
    session.nick = `guest-${session.id}`
    this.nicks.set(session.nick.toLowerCase(), session)
    session.send(lineCodec.encode(reply.welcome(session.id, session.nick)))
    this.enter(session, DEFAULT_ROOM)
  }

  disconnect(session: Session): void {
    if (session.nick) this.nicks.delete(session.nick.toLowerCase())
    this.leave(session)
  }

  apply(session: Session, command: Command): void {
    switch (command.verb) {
      case 'CHAT':
        return this.broadcast(session.room!, reply.msg(session.room!, session.nick!, command.text))
      case 'NICK':
        return this.rename(session, command.name)
      case 'JOIN':
        if (command.room === session.room) return this.tell(session, reply.joined(command.room, session.nick!))
        this.leave(session)
        return this.enter(session, command.room)
      case 'WHO':
        return this.tell(session, reply.users(session.room!, this.members(session.room!)))
      case 'PING':
        return this.tell(session, reply.pong(command.token))
      case 'QUIT':
        this.tell(session, reply.bye(command.reason || 'quit'))
        return session.end(command.reason ? `quit: ${command.reason}` : 'quit')
      case 'ERR':
        return this.tell(session, reply.err(command.code, command.text))
      case 'NOOP':
        return
    }
  }

  roomCount(): number {
    return this.rooms.size
  }

  private rename(session: Session, name: string): void {
    const old = session.nick!
    if (name === old) return this.tell(session, reply.nick(old, name))
    const holder = this.nicks.get(name.toLowerCase())
    // guest-<n> names are held back for the sessions that will be given them.
    const taken = holder ? holder !== session : GUEST_NICK.test(name)
    if (taken) return this.tell(session, reply.err('nick-taken', `nick ${name} is taken`))
    this.nicks.delete(old.toLowerCase())
    this.nicks.set(name.toLowerCase(), session)
    session.nick = name
    this.broadcast(session.room!, reply.nick(old, name))
  }

  private enter(session: Session, room: string): void {
    let members = this.rooms.get(room)
    if (!members) this.rooms.set(room, (members = new Set()))
    members.add(session)
    session.room = room
    this.broadcast(room, reply.joined(room, session.nick!))
  }

  private leave(session: Session): void {
    const room = session.room
    if (room === null) return
    const members = this.rooms.get(room)!
    // The leaver hears of it too (while it is still connected), so a client can follow its own room.
    this.broadcast(room, reply.left(room, session.nick!))
    members.delete(session)
    if (members.size === 0) this.rooms.delete(room)
    session.room = null
  }

  private members(room: string): string[] {
    return [...(this.rooms.get(room) ?? [])].map((member) => member.nick!)
  }

  /** Encodes once; every member's send queue holds the same Buffer. */
  private broadcast(room: string, line: string): void {
    const frame = lineCodec.encode(line)
    for (const member of this.rooms.get(room) ?? []) member.send(frame)
  }

  private tell(session: Session, line: string): void {
    session.send(lineCodec.encode(line))
  }
}
