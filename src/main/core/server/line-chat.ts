import { lineCodec } from '../codec/line'
import type { Command } from '../protocol/commands'
import { reply } from '../protocol/replies'
import type { LineBackend } from './line-backend'
import { LineReplies } from './line-replies'
import { announce, whoPages } from './room-lines'
import type { Session } from './session'

export const DEFAULT_ROOM = 'lobby'
/** guest-<n> names are held back for the sessions that will be given them. */
export const GUEST_NICK = /^guest-[0-9]+$/i

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
export class LineChat extends LineReplies implements LineBackend {
  readonly nodeId = null
  private readonly rooms = new Map<string, Set<Session>>()
  private readonly members = new Map<Session, Member>()
  /** Keyed by lower-cased nick: nicks differing only in case would be confusing in a room. */
  private readonly nicks = new Map<string, Session>()
  /** WHO's answer per room, encoded once until the room's members or their nicks change: a big room's is long. */
  private readonly whoCache = new Map<string, Buffer[]>()

  constructor(private readonly limits: LineChatLimits) {
    super()
  }

  // This process alone: nothing to open or close, no other node to ask.
  open(): Promise<void> {
    return Promise.resolve()
  }

  allLeft(): Promise<void> {
    return Promise.resolve()
  }

  close(): Promise<void> {
    return Promise.resolve()
  }

  kickRemote(): Promise<boolean> {
    return Promise.resolve(false)
  }

  metrics(): null {
    return null
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
      case 'HELP':
        return this.help(session)
      case 'QUIT':
        return this.quit(session, command.reason)
      case 'ERR':
        return this.refuse(session, command.code, command.text)
      case 'NOOP':
        return
    }
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
    this.whoCache.delete(member.room!)
    this.announce(session, member.room!, reply.nick(old, name))
  }

  private enter(session: Session, room: string): void {
    let inRoom = this.rooms.get(room)
    if (!inRoom) this.rooms.set(room, (inRoom = new Set()))
    inRoom.add(session)
    this.whoCache.delete(room)
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
    this.whoCache.delete(room)
    if (inRoom.size === 0) this.rooms.delete(room)
    member.room = null
  }

  private announce(subject: Session, room: string, line: string): void {
    const inRoom = this.rooms.get(room)
    if (inRoom) announce(inRoom, inRoom.size, subject, line, this.limits.presenceLimit)
    else this.tell(subject, line)
  }

  private who(session: Session, room: string): void {
    let pages = this.whoCache.get(room)
    if (!pages) {
      const nicks = [...(this.rooms.get(room) ?? [])].map((member) => this.members.get(member)!.nick)
      this.whoCache.set(room, (pages = whoPages(room, nicks, this.limits.maxLineBytes)))
    }
    for (const page of pages) session.send(page)
  }

  /** Encodes once; every member's send queue holds the same Buffer. */
  private broadcast(room: string, line: string): void {
    const frame = lineCodec.encode(line)
    for (const member of this.rooms.get(room) ?? []) member.send(frame)
  }
}
