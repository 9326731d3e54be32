import { lineCodec } from '../codec/line'
import { GUEST_NICK, type Command } from '../protocol/commands'
import { reply } from '../protocol/replies'
import type { LineBackend } from './line-backend'
import { LineReplies } from './line-replies'
import { RoomHistory, type HistoryEntry, type HistoryLimits } from './room-history'
import { announce, whoPages } from './room-lines'
import type { Session } from './session'

export const DEFAULT_ROOM = 'lobby'

interface Member {
  nick: string
  room: string | null
  /** Sent `CAP ids`: its MSG lines carry their ids. */
  ids: boolean
}

export interface LineChatLimits extends HistoryLimits {
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
  /** Per room, its members that asked for ids (`CAP ids`); rooms where none did are not here. */
  private readonly tagged = new Map<string, Set<Session>>()
  private readonly history: RoomHistory

  constructor(private readonly limits: LineChatLimits) {
    super()
    this.history = new RoomHistory(limits)
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

  join(session: Session, wanted?: string): void {
    const nick = wanted !== undefined && !this.nicks.has(wanted.toLowerCase()) ? wanted : `guest-${session.id}`
    this.members.set(session, { nick, room: null, ids: false })
    this.nicks.set(nick.toLowerCase(), session)
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
    if (!member || !command || this.answerAnywhere(session, command)) return
    switch (command.verb) {
      case 'CHAT':
        return this.broadcast(member.room!, member.nick, command.text)
      case 'CAP':
        if (!member.ids) {
          member.ids = true
          this.taggedIn(member.room!).add(session)
        }
        // With its place in its room: a resume from there misses nothing, though it has heard nothing yet.
        return this.tell(session, reply.tagged(this.history.position(), reply.cap(command.cap)))
      case 'HISTORY': {
        const entries = this.history.latest(member.room!, command.count)
        for (const entry of entries) this.tell(session, this.msgLine(member, member.room!, entry))
        return this.tell(session, reply.historyEnd(member.room!, entries.length))
      }
      case 'RESUME':
        return this.resume(session, member, command.room, command.id)
      case 'NICK':
        return this.rename(session, member, command.name)
      case 'JOIN':
        if (command.room === member.room) return this.tell(session, this.ownJoined(member, command.room))
        this.exit(session, member)
        return this.enter(session, command.room)
      case 'WHO':
        return this.who(session, member.room!)
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

  /**
   * Joins `room` (unless in it) and replays what came after `id`, in order, before anything live: one thread,
   * one commit, so nothing falls between the replay and the live lines, and nothing is in both.
   */
  private resume(session: Session, member: Member, room: string, id: string): void {
    // Its JOINED comes first either way: a client drops what reached it live before it (the replay has it).
    if (member.room !== room) {
      this.exit(session, member)
      this.enter(session, room)
    } else this.tell(session, this.ownJoined(member, room))
    const { entries, gone } = this.history.after(room, id)
    if (gone !== null) this.tell(session, reply.err('history-gone', gone))
    for (const entry of entries) this.tell(session, this.msgLine(member, room, entry))
    this.tell(session, reply.resumeEnd(room, entries.length))
  }

  private msgLine(member: Member, room: string, entry: HistoryEntry): string {
    return member.ids ? reply.taggedMsg(entry.id, room, entry.nick, entry.text) : reply.msg(room, entry.nick, entry.text)
  }

  private taggedIn(room: string): Set<Session> {
    let inRoom = this.tagged.get(room)
    if (!inRoom) this.tagged.set(room, (inRoom = new Set()))
    return inRoom
  }

  private enter(session: Session, room: string): void {
    let inRoom = this.rooms.get(room)
    if (!inRoom) this.rooms.set(room, (inRoom = new Set()))
    inRoom.add(session)
    this.whoCache.delete(room)
    const member = this.members.get(session)!
    member.room = room
    if (member.ids) this.taggedIn(room).add(session)
    this.announce(session, room, reply.joined(room, member.nick), this.ownJoined(member, room))
  }

  /** Its own JOINED; for one that asked for ids, tagged with its place in the room's messages (a resume from there misses nothing). */
  private ownJoined(member: Member, room: string): string {
    const joined = reply.joined(room, member.nick)
    return member.ids ? reply.tagged(this.history.position(), joined) : joined
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
    const tagged = this.tagged.get(room)
    if (tagged?.delete(session) && tagged.size === 0) this.tagged.delete(room)
    member.room = null
  }

  private announce(subject: Session, room: string, line: string, subjectLine = line): void {
    const inRoom = this.rooms.get(room)
    if (inRoom) announce(inRoom, inRoom.size, subject, line, this.limits.presenceLimit, subjectLine)
    else this.tell(subject, subjectLine)
  }

  private who(session: Session, room: string): void {
    let pages = this.whoCache.get(room)
    if (!pages) {
      const nicks = [...(this.rooms.get(room) ?? [])].map((member) => this.members.get(member)!.nick)
      this.whoCache.set(room, (pages = whoPages(room, nicks, this.limits.maxLineBytes)))
    }
    for (const page of pages) session.send(page)
  }

  /**
   * Keeps the message in the room's history, then sends it: encoded once, or twice where some members asked
   * for ids (with and without the tag); every member's send queue holds one of the two Buffers.
   */
  private broadcast(room: string, nick: string, text: string): void {
    const id = this.history.append(room, nick, text)
    const tagged = this.tagged.get(room)
    // Made only if a member will be sent it: where everyone asked for ids, only the tagged frame is.
    let frame: Buffer | null = null
    if (!tagged) {
      frame = lineCodec.encode(reply.msg(room, nick, text))
      for (const member of this.rooms.get(room) ?? []) member.send(frame)
      return
    }
    const taggedFrame = lineCodec.encode(reply.taggedMsg(id, room, nick, text))
    for (const member of this.rooms.get(room) ?? []) member.send(tagged.has(member) ? taggedFrame : (frame ??= lineCodec.encode(reply.msg(room, nick, text))))
  }
}
