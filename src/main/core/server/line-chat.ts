import { lineCodec } from '../codec/line'
import type { Command, ErrorCode } from '../protocol/commands'
import { reply } from '../protocol/replies'
import type { ChatProtocol } from './chat-protocol'
import type { Session } from './session'

export const DEFAULT_ROOM = 'lobby'
const GUEST_NICK = /^guest-[0-9]+$/i

/**
 * Rooms up to this size get presence at once: a write per member per arrival costs little there, and
 * (measured) delaying it cost a 200-member broadcast 5-10 % of its deliveries/s.
 */
const LAZY_PRESENCE = 256

interface Member {
  nick: string
  room: string | null
}

export interface LineChatLimits {
  /** Rooms with more members than this tell JOINED, LEFT and NICK only to the session concerned. */
  presenceLimit: number
  /** The longest line a USERS page may be (the line limit, so any client that can talk to us can read it). */
  maxLineBytes: number
}

/**
 * Rooms and nicks of the line protocol, shared by all line listeners. It lives on the I/O thread
 * only, and is changed only by commits, which arrive in the logic pipeline's order. It alone holds a
 * session's nick and room.
 */
export class LineChat implements ChatProtocol {
  readonly parses = true
  private readonly rooms = new Map<string, Set<Session>>()
  private readonly members = new Map<Session, Member>()
  /** Keyed by lower-cased nick: nicks differing only in case would be confusing in a room. */
  private readonly nicks = new Map<string, Session>()
  /** WHO's answer per room, encoded once until the room's members or their nicks change: a big room's is long. */
  private readonly whoPages = new Map<string, Buffer[]>()

  constructor(private readonly limits: LineChatLimits) {}

  /** An empty line means nothing; letting it in would make a stream of newlines a queue entry per byte. */
  ignores(frame: Buffer): boolean {
    return frame.length === 0
  }

  join(session: Session): void {
    const nick = `guest-${session.id}`
    this.members.set(session, { nick, room: null })
    this.nicks.set(nick, session)
    this.tell(session, reply.welcome(session.id, nick))
    this.enter(session, DEFAULT_ROOM)
  }

  leave(session: Session): void {
    const member = this.members.get(session)
    if (!member) return
    this.exit(session, member)
    this.nicks.delete(member.nick.toLowerCase())
    this.members.delete(session)
  }

  commit(session: Session, _frame: Buffer, command: Command | null): void {
    const member = this.members.get(session)
    if (!member || !command) return
    switch (command.verb) {
      case 'CHAT':
        return this.broadcast(member.room!, reply.msg(member.room!, member.nick, command.text))
      case 'NICK':
        return this.rename(session, member, command.name)
      case 'JOIN':
        if (command.room === member.room) return this.tell(session, reply.joined(command.room, member.nick))
        this.exit(session, member)
        return this.enter(session, command.room)
      case 'WHO':
        return this.who(session, member.room!)
      case 'PING':
        return this.tell(session, reply.pong(command.token))
      case 'QUIT':
        this.farewell(session, command.reason || 'quit')
        return session.end(command.reason ? `quit: ${command.reason}` : 'quit')
      case 'ERR':
        return this.refuse(session, command.code, command.text)
      case 'NOOP':
        return
    }
  }

  refuse(session: Session, code: ErrorCode, text: string): void {
    this.tell(session, reply.err(code, text))
  }

  farewell(session: Session, reason: string): void {
    this.tell(session, reply.bye(reason))
  }

  describe(session: Session): { nick: string | null; room: string | null } {
    return this.members.get(session) ?? { nick: null, room: null }
  }

  private rename(session: Session, member: Member, name: string): void {
    const old = member.nick
    if (name === old) return this.tell(session, reply.nick(old, name))
    const holder = this.nicks.get(name.toLowerCase())
    // guest-<n> names are held back for the sessions that will be given them.
    const taken = holder ? holder !== session : GUEST_NICK.test(name)
    if (taken) return this.tell(session, reply.err('nick-taken', `nick ${name} is taken`))
    this.nicks.delete(old.toLowerCase())
    this.nicks.set(name.toLowerCase(), session)
    member.nick = name
    this.whoPages.delete(member.room!)
    this.announce(session, member.room!, reply.nick(old, name))
  }

  private enter(session: Session, room: string): void {
    let inRoom = this.rooms.get(room)
    if (!inRoom) this.rooms.set(room, (inRoom = new Set()))
    inRoom.add(session)
    this.whoPages.delete(room)
    const member = this.members.get(session)!
    member.room = room
    this.announce(session, room, reply.joined(room, member.nick))
  }

  private exit(session: Session, member: Member): void {
    const room = member.room
    if (room === null) return
    // The leaver hears of it too (while it is still connected), so a client can follow its own room.
    this.announce(session, room, reply.left(room, member.nick))
    const inRoom = this.rooms.get(room)!
    inRoom.delete(session)
    this.whoPages.delete(room)
    if (inRoom.size === 0) this.rooms.delete(room)
    member.room = null
  }

  /**
   * Presence (JOINED, LEFT, NICK) goes to the whole room while it is small; in a large room it would be
   * N² lines as a crowd comes and goes, so there it goes only to the session concerned. In between, past
   * LAZY_PRESENCE members, the others get it lazily: a crowd arriving is a line to every member per
   * arrival, written a turn at a time that is a write to every socket per arrival (and Node accepts one
   * connection per turn); gathered for a few ms it is one write per socket for many arrivals.
   */
  private announce(subject: Session, room: string, line: string): void {
    const inRoom = this.rooms.get(room)
    if (!inRoom || inRoom.size > this.limits.presenceLimit) return this.tell(subject, line)
    const frame = lineCodec.encode(line)
    if (inRoom.size <= LAZY_PRESENCE) {
      for (const member of inRoom) member.send(frame)
      return
    }
    for (const member of inRoom) {
      if (member === subject) member.send(frame)
      else member.sendLazily(frame)
    }
  }

  private who(session: Session, room: string): void {
    let pages = this.whoPages.get(room)
    if (!pages) this.whoPages.set(room, (pages = this.paginate(room)))
    for (const page of pages) session.send(page)
  }

  /** The members in USERS pages that each fit the line limit, then USERS-END with the count. */
  private paginate(room: string): Buffer[] {
    const inRoom = this.rooms.get(room) ?? new Set<Session>()
    const pages: Buffer[] = []
    const prefix = reply.users(room, [])
    let page: string[] = []
    let length = prefix.length
    for (const member of inRoom) {
      const nick = this.members.get(member)!.nick
      if (page.length > 0 && length + 1 + nick.length > this.limits.maxLineBytes) {
        pages.push(lineCodec.encode(reply.users(room, page)))
        page = []
        length = prefix.length
      }
      page.push(nick)
      length += 1 + nick.length
    }
    if (page.length > 0) pages.push(lineCodec.encode(reply.users(room, page)))
    pages.push(lineCodec.encode(reply.usersEnd(room, inRoom.size)))
    return pages
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
