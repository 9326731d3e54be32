import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { ClusterConfig } from '../../../shared/contract'
import type { ClusterMetrics, ClusterRoom } from '../../../shared/telemetry'
import { encodeLines } from '../codec/line'
import { GUEST_NICK, type Command, type ErrorCode } from '../protocol/commands'
import { reply } from '../protocol/replies'
import type { LineBackend, LineBackendContext, LineBackendFactory } from '../server/line-backend'
import { DEFAULT_ROOM } from '../server/line-chat'
import { LineReplies } from '../server/line-replies'
import type { HistoryEntry } from '../server/room-history'
import { whoPages } from '../server/room-lines'
import type { Session } from '../server/session'
import type { RedisAccess } from './config'
import { EMPTY_ROOM_TTL_S, keys, memberOf } from './keys'
import { DEFAULT_LEASE_MS, leaseTiming, type LeaseTiming } from './lease'
import { NodeRegistry, type OrphanSession, type SessionRecord } from './node-registry'
import { ClusterStore, connectRedis, refusalOf, unawaited, whyRedisRefused, type Presence, type Writer } from './redis'
import { entryFields, messagesOf, type NewEntry } from './room-entry'
import { RoomFeed } from './room-feed'
import { Seat } from './seat'
import { after, StepQueue } from './step-queue'
import { compareIds, idBefore, parseMessageId, positionAfter } from './stream-id'
import { BLOCK_MS, StreamReader, type StreamEntry } from './stream-reader'
import { TurnBatches } from './turn-batches'
import { within } from '../within'
import { EverySecond } from './every-second'
import { Backlog, BacklogFull } from './backlog'
import { every } from './ticker'

/** Entries a room's stream keeps (MAXLEN ~): minutes of a busy room, for readers that fell behind. */
const STREAM_KEEP = 10_000
/** HISTORY reads the stream backwards this many entries at a time (at least MAX_HISTORY)... */
const HISTORY_PAGE = 1000
/** ...and at most this many times: the whole stream. */
const HISTORY_PAGES = Math.ceil(STREAM_KEEP / HISTORY_PAGE)
/**
 * And about this many bytes: a room of 4 KB lines would hold 40 MB at 10,000 entries. Each append trims the
 * stream to as many entries of its own size as fit (Redis trims by count, not bytes), never below
 * STREAM_KEEP_MIN, so a room's stream stays near this size whatever its lines.
 */
const STREAM_BYTES = 2 * 2 ** 20
const STREAM_KEEP_MIN = 100
/** What Redis keeps per entry besides its fields' text: its ID, field lengths, the radix tree's share. */
const ENTRY_OVERHEAD = 64
/**
 * Emptied rooms whose streams are kept until their TTL (their last EMPTIED_KEEP entries each): past this
 * many, the oldest go at once, so JOIN churn over distinct rooms cannot fill Redis with rooms nobody is in.
 */
const EMPTIED_ROOMS_KEPT = 500

interface Member {
  session: Session
  /** How its rooms write to it: with ids or without, and held while a replay is fetched. */
  seat: Seat
  /** `<run>/<session id>`: the subject of its entries. */
  subject: string
  /** Null until its guest number comes. */
  nick: string | null
  /** The room its next entries go to. */
  room: string | null
  steps: StepQueue
  /**
   * The lease epoch it was admitted under: its entries are written under it, so should its node be fenced
   * and rejoin under a new one, what is still queued of it is refused by Redis, never written after its LEFT.
   */
  writer: Writer
  /** It sent QUIT: what it sent after is not acted on. */
  quitting: boolean
  /** Turned away or fenced: what is still queued of it does nothing (its leave still runs). */
  gone: boolean
  /** Its last entry not yet seen delivered: its replies wait for it, so they keep their place after it. */
  lastAppend: Promise<{ room: string; id: string }> | null
}

/** A room this node reads: what it delivers here, and the numbering of what it appends there. */
interface Room {
  feed: RoomFeed
  /**
   * This node's entries in the room while it reads it: an origin of their own (new each time the room is
   * read again, so the map of origins a reader keeps ends with the room) and their count so far.
   */
  origin: string
  appended: number
}

/** What an operator may tune of a node's use of Redis (the CLI's flags); the defaults suit most. */
export interface ClusterTuning {
  /** How long an emptied room's stream is kept, in seconds. */
  emptyRoomTtlS: number
  /** The node's lease (ms): every other time of its use of Redis is derived from it (see LeaseTiming). */
  leaseMs: number
  /** The memory (bytes, estimated) the node may hold waiting on Redis: past it, lines that need Redis are refused. */
  backlogBytes: number
}

export const CLUSTER_TUNING: ClusterTuning = { emptyRoomTtlS: EMPTY_ROOM_TTL_S, leaseMs: DEFAULT_LEASE_MS, backlogBytes: 32 * 2 ** 20 }

export interface ClusterChatOptions extends LineBackendContext {
  config: ClusterConfig
  tuning: ClusterTuning
  /** Credentials and CA for the Redis `config` names; null: none (or they are for another Redis). */
  access: RedisAccess | null
}

/** The line backend of a node of the cluster `config` names: what the composition root hands the server. */
export const clusterBackend =
  (config: ClusterConfig, tuning: ClusterTuning = CLUSTER_TUNING, access: RedisAccess | null = null): LineBackendFactory =>
  (context) =>
    new ClusterChat({ ...context, config, tuning, access: access?.address === config.redis ? access : null })

/**
 * The line protocol's rooms and nicks shared by the nodes of a cluster through Redis (docs/CLUSTER.md).
 * Every change to a room is an entry in the room's stream; each node reads the streams of its members' rooms
 * and delivers them in stream order, its own entries included, so every member on every node sees one order.
 * A session's commands run in its order: a command that needs Redis's answer (NICK, JOIN, WHO) holds the
 * ones after it, and a reply (PONG, ERR) waits until the session's own entries before it were delivered.
 */
export class ClusterChat extends LineReplies implements LineBackend {
  readonly nodeId: string
  /** This run of the node: entries it appends say so, and a restarted node is a new origin. */
  private readonly run: string
  private readonly store: ClusterStore
  private readonly readerConnection: Redis
  private readonly reader: StreamReader
  private readonly registry: NodeRegistry
  private readonly timing: LeaseTiming
  private readonly members = new Map<Session, Member>()
  private readonly rooms = new Map<string, Room>()
  /** Origins handed out: a room read again, or a one-off entry for a room this node does not read. */
  private origins = 0
  private readonly inbox: string
  /** The last connection error since Redis was last reachable; '' while it is. */
  private lastError = ''
  /** The error behind lastError, for what open() says when Redis would not have this node. */
  private lastFailure: Error | null = null
  private opened = false
  private stopSweeping: () => void = () => {}
  private appended = 0
  private delivered = 0
  /** The messages taken this turn, per room: one entry each at the turn's end. */
  private readonly batches = new TurnBatches((room, writer, messages) => this.appendEntry(room, writer, { kind: 'msgs', messages }).then((id) => ({ room, id })))
  private duplicatesDropped = 0
  private entriesLost = 0
  private whenEmpty: (() => void) | null = null
  /** Errors that come one per command while their cause lasts: logged once a second per kind, with a count. */
  private readonly repeated = new EverySecond((kind, text, count) => this.options.log(`${kind}${count > 1 ? ` (${count} times in a second)` : ''}: ${text}`, true))
  private readonly backlog: Backlog
  /** What a line refused for the backlog bound is told. */
  private readonly backlogFull: string

  constructor(private readonly options: ClusterChatOptions) {
    super()
    this.nodeId = options.config.nodeId
    this.run = `${this.nodeId}.${randomBytes(4).toString('hex')}`
    this.inbox = keys.nodeInbox(this.nodeId)
    this.timing = leaseTiming(options.tuning.leaseMs)
    this.backlog = new Backlog(options.tuning.backlogBytes, options.pressure)
    this.backlogFull = `this node holds ${Math.round(options.tuning.backlogBytes / 2 ** 20)} MB waiting on the cluster's Redis already (Redis slow or away); try again`
    this.store = new ClusterStore(connectRedis(options.config.redis, 'commands', this.timing.leaseMs, options.access))
    // A blocked read is answered when its block ends: only past that is it unanswered.
    this.readerConnection = connectRedis(options.config.redis, 'reader', BLOCK_MS + this.timing.leaseMs, options.access)
    for (const connection of [this.store.connection, this.readerConnection]) {
      connection.on('error', (error: Error) => {
        if (!this.lastError && this.opened) options.log(`Redis: ${error.message}; reconnecting`, true)
        this.lastError = error.message
        this.lastFailure = error
      })
      connection.on('ready', () => {
        if (this.lastError && this.opened) options.log('Redis connection back')
        this.lastError = ''
      })
    }
    this.store.connection.on('ready', () => this.opened && this.registry.reconnected())
    this.reader = new StreamReader(this.readerConnection, this.store.connection, (key, entries) => this.onEntries(key, entries), (error) =>
      this.repeated.note('reading streams failed', error.message)
    )
    this.registry = new NodeRegistry(this.store, this.nodeId, this.run, this.timing, {
      beat: () => options.beat(),
      heldNicks: () => this.heldNicks(),
      reap: (orphans) => this.reap(orphans),
      fenced: (reason) => this.fenced(reason),
      restore: () => this.restore(),
      log: (text, error) => options.log(text, error),
      repeated: (kind, text) => this.repeated.note(kind, text)
    })
  }

  /** Connects to Redis and joins the cluster; throws (and lets go of Redis) if it cannot. */
  async open(): Promise<void> {
    const address = this.options.config.redis
    try {
      await Promise.all([this.store.connection.connect(), this.readerConnection.connect()])
    } catch (error) {
      this.disconnect()
      throw new Error(whyRedisRefused(address, this.lastFailure ?? (error as Error)))
    }
    try {
      await this.registry.join()
    } catch (error) {
      this.disconnect()
      throw error
    }
    this.reader.watch(this.inbox, await this.store.inboxEnd(this.nodeId))
    this.stopSweeping = every(this.timing.renewMs, () => this.dropEmptied())
    this.opened = true
    this.options.log(`node ${this.nodeId} joined the cluster at ${address}`)
  }

  /** Settles when every session that was here has left its room (its LEFT entry appended). */
  allLeft(): Promise<void> {
    if (this.members.size === 0) return Promise.resolve()
    return new Promise<void>((resolve) => (this.whenEmpty = resolve))
  }

  /**
   * Leaves the cluster and disconnects. If sessions are still here (Redis was away while they left), or Redis
   * does not answer within `graceMs`, the node just goes silent: a survivor reaps it when its lease runs out.
   */
  async close(graceMs: number): Promise<void> {
    this.opened = false
    this.stopSweeping()
    // Redis may be away: the node leaves within the grace or not at all (then it is reaped like a dead one).
    await within(this.registry.leave(this.members.size === 0), graceMs)
    this.disconnect()
    await this.reader.close()
  }

  /** What becomes of a refused command nobody waited for (quiet once closing: a disconnect refuses all). */
  private readonly report = (error: Error): void => {
    if (this.opened) this.repeated.note('a Redis command nobody waited for failed', error.message)
  }

  private disconnect(): void {
    this.store.connection.disconnect()
    this.readerConnection.disconnect()
  }

  /** Drops the streams of the rooms emptied longest ago past EMPTIED_ROOMS_KEPT (every node sweeps; ZPOPMIN shares the work). */
  private async dropEmptied(): Promise<void> {
    if (this.registry.fenced !== null) return
    await this.store.dropEmptied(this.options.tuning.emptyRoomTtlS, EMPTIED_ROOMS_KEPT)
  }

  /** Asks another node to kick one of its sessions; false if that node is not alive. */
  async kickRemote(node: string, sessionId: number, reason: string): Promise<boolean> {
    return this.store.kick(node, sessionId, reason)
  }

  metrics(): ClusterMetrics {
    const rooms: ClusterRoom[] = [...this.rooms].map(([room, { feed }]) => ({ room, localMembers: feed.members, lagMs: feed.lagMs }))
    return {
      nodeId: this.nodeId,
      redis: this.options.config.redis,
      redisReachable: this.store.connection.status === 'ready' && this.readerConnection.status === 'ready' && this.registry.lease.reachable,
      fenced: this.registry.fenced,
      leaseAgeMs: this.registry.lease.ageMs,
      nodes: this.registry.nodes,
      rooms: rooms.sort((a, b) => a.room.localeCompare(b.room)),
      remoteSessions: this.registry.remoteSessions,
      appended: this.appended,
      delivered: this.delivered,
      duplicatesDropped: this.duplicatesDropped,
      entriesLost: this.entriesLost,
      nodesReaped: this.registry.nodesReaped,
      backlogBytes: this.backlog.held,
      backlogRefused: this.backlog.refused
    }
  }

  // ChatProtocol (with refuse and farewell from LineReplies: told at once, since the server calls them as it
  // ends a session, when waiting would be too late)

  join(session: Session, nick?: string): void {
    if (this.registry.fenced !== null) return this.turnAway(session, this.unavailable(this.registry.fenced))
    const steps = new StepQueue((error) => this.refuse(session, ...this.refusal(session, error)))
    const member: Member = {
      session,
      seat: new Seat(session),
      subject: `${this.run}/${session.id}`,
      nick: null,
      room: null,
      steps,
      writer: this.registry.lease.writer,
      quitting: false,
      gone: false,
      lastAppend: null
    }
    this.members.set(session, member)
    // Admitted cluster-wide (a guest number, in the lobby's stream and member hash) or not at all: a session
    // no other node can see would be a ghost, so one Redis refuses is told why and closed.
    void steps.submit(true, () => this.admit(member, nick).catch((error: Error) => this.turnAway(session, this.refusal(session, error))))
  }

  /**
   * Tells a session the cluster cannot have it and closes it: one Redis could not admit (in no room, it
   * would be seen by nobody), or any session of a node that may have lost its lease.
   */
  private turnAway(session: Session, [code, text]: [ErrorCode, string]): void {
    const member = this.members.get(session)
    if (member) member.gone = true
    this.refuse(session, code, text)
    session.end(text)
  }

  private unavailable(why: string): [ErrorCode, string] {
    return ['unavailable', `this node is cut off from the cluster's Redis (${why}); try again shortly`]
  }

  private async admit(member: Member, wanted: string | undefined): Promise<unknown> {
    const claimed = wanted !== undefined && (await this.store.claimNick(wanted, this.owner(member), this.timing.nickTtlS, member.writer))
    member.nick = claimed ? wanted : `guest-${await this.registry.guestNumber()}`
    // Gone while its number was on its way (Redis slow or away): never announced, so nothing to take back.
    if (member.quitting) return
    this.tell(member.session, reply.welcome(member.session.id, member.nick))
    // Its JOINED tells when it connected: one that waited out an outage is coalesced by the readers.
    return this.enter(member, DEFAULT_ROOM, member.session.connectedAt)
  }

  leave(session: Session): void {
    const member = this.members.get(session)
    if (!member) return
    member.quitting = true
    const at = Date.now()
    void member.steps.submit(false, () => {
      const { room, nick } = member
      // Gone from here on: it hears nothing more of the room, its own LEFT included.
      if (room !== null) this.stopHearing(room, member.subject)
      const left = room === null ? undefined : this.append(member, room, { kind: 'left', subject: member.subject, nick: nick!, at }, 'farewell')
      if (nick !== null && !GUEST_NICK.test(nick)) unawaited(this.store.releaseNick(nick, this.owner(member)), this.report)
      this.registry.forget(session.id)
      this.members.delete(session)
      if (this.members.size === 0) this.whenEmpty?.()
      return left
    })
  }

  commit(session: Session, _frame: Buffer, command: Command | null): Promise<unknown> | void {
    const member = this.members.get(session)
    if (!member || member.quitting || !command) return
    switch (command.verb) {
      case 'CHAT':
        return this.chat(member, command.text)
      case 'NICK':
        return this.step(member, true, () => this.rename(member, command.name))
      case 'JOIN': {
        const at = Date.now()
        return this.step(member, true, () => this.joinRoom(member, command.room, at))
      }
      case 'WHO':
        return this.step(member, true, () => this.who(member))
      case 'PING':
        return this.step(member, true, () => after(this.ownDelivered(member), () => this.tell(session, reply.pong(command.token))))
      case 'HELP':
        return this.step(member, true, () => after(this.ownDelivered(member), () => this.help(session)))
      case 'QUIT':
        member.quitting = true
        return this.step(member, true, () => after(this.ownDelivered(member), () => this.quit(session, command.reason)))
      case 'ERR':
        return this.step(member, true, () => after(this.ownDelivered(member), () => this.refuse(session, command.code, command.text)))
      case 'CAP':
        return this.step(member, true, () =>
          after(this.ownDelivered(member), () => {
            member.seat.tagged = true
            // With its place in its room: a resume from there misses nothing, though it has heard nothing yet.
            const here = this.here(member)
            this.tell(session, here === null ? reply.cap(command.cap) : reply.tagged(here, reply.cap(command.cap)))
          })
        )
      case 'HISTORY':
        return this.step(member, true, () => this.history(member, command.count))
      case 'RESUME': {
        const at = Date.now()
        return this.step(member, true, () => this.resume(member, command.room, command.id, at))
      }
      case 'NOOP':
        return
    }
  }

  /**
   * Only follows the steps before it: Redis keeps the appends of one connection in the order they were
   * sent. Past the node's backlog bound, refused by a step of its own that does not hold the text (after
   * the commands still waiting before it; like a rate-limited line, maybe before the echoes of messages
   * sent just before), while reading pauses (see Backlog).
   */
  private chat(member: Member, text: string): Promise<unknown> | void {
    if (!this.backlog.admits(text.length)) return member.steps.submit(false, this.refuseForBacklog)
    const done = this.step(member, false, () => {
      if (member.room !== null) return this.say(member, member.room, text)
    })
    this.backlog.hold(text.length, done)
    return done
  }

  private readonly refuseForBacklog = (): Promise<never> => Promise.reject(new BacklogFull(this.backlogFull))

  /** One of the member's commands, in its order; nothing once the member is gone (turned away, fenced). */
  private step(member: Member, blocks: boolean, run: () => Promise<unknown> | void): Promise<unknown> | void {
    return member.steps.submit(blocks, () => (member.gone ? undefined : run()))
  }

  describe(session: Session): { nick: string | null; room: string | null } {
    const member = this.members.get(session)
    return { nick: member?.nick ?? null, room: member?.room ?? null }
  }

  // A session's commands, in order.

  /**
   * What a session is told of a command that failed in the cluster: Redis refusing (out of memory, a failed
   * save, a read-only replica) is a passing state the client may retry after; anything else is our fault, logged.
   */
  private refusal(session: Session, error: Error): [ErrorCode, string] {
    if (error instanceof BacklogFull) {
      this.repeated.note('lines refused', error.message)
      return ['unavailable', error.message]
    }
    const refused = refusalOf(error)
    if (refused) {
      this.repeated.note('Redis refused commands', refused)
      return ['unavailable', `the cluster's Redis refused it: ${refused}`]
    }
    this.repeated.note('a command failed in the cluster, sender told', `session ${session.id}: ${error.message}`)
    return ['internal', 'the cluster could not apply that']
  }

  /** Resolves with the ID of the member's JOINED entry. */
  private enter(member: Member, room: string, at: number): Promise<string> {
    member.room = room
    const { feed } = this.room(room)
    feed.expect(member.subject, member.seat)
    this.registry.record(member.session.id, this.record(member))
    return this.append(member, room, { kind: 'joined', subject: member.subject, nick: member.nick!, at }, 'set').then(
      // A room new to this node is read from its joiner's own entry on: nothing from before it joined.
      ({ id }) => {
        this.reader.watch(keys.roomLog(room), idBefore(id))
        return id
      },
      (error: Error) => {
        this.stopHearing(room, member.subject)
        throw error
      }
    )
  }

  /** JOIN: moves the member to `room`, or (in it already) says it is in. */
  private joinRoom(member: Member, room: string, at: number): Promise<unknown> | void {
    if (room !== member.room) return this.move(member, room, at)
    return after(this.ownDelivered(member), () => this.tell(member.session, this.ownJoined(member, room, this.here(member))))
  }

  /** Resolves with the ID of the member's JOINED entry in `room` (another room than its own); nothing if turned away. */
  private move(member: Member, room: string, at: number): Promise<string | void> {
    const { session, nick } = member
    const from = member.room!
    // A LEFT Redis refuses refuses the JOIN: the session stays where it was (the step's ERR says why). Once
    // out, it must get in: in no room it would be seen by nobody, so a JOINED refused then turns it away.
    return this.append(member, from, { kind: 'left', subject: member.subject, nick: nick!, at }, 'del')
      // The old room's LEFT reaches the session before anything of the new room.
      .then(() => this.ownDelivered(member))
      .then(() => this.enter(member, room, at).catch((error: Error) => this.turnAway(session, this.refusal(session, error))))
  }

  private async rename(member: Member, name: string): Promise<void> {
    const { session } = member
    const old = member.nick!
    if (name === old) return void (await after(this.ownDelivered(member), () => this.tell(session, reply.nick(old, name))))
    const owner = this.owner(member)
    const free = !GUEST_NICK.test(name) && (await this.store.claimNick(name, owner, this.timing.nickTtlS, member.writer))
    if (!free) return void (await after(this.ownDelivered(member), () => this.tell(session, reply.err('nick-taken', `nick ${name} is taken`))))
    if (!GUEST_NICK.test(old) && old.toLowerCase() !== name.toLowerCase()) unawaited(this.store.releaseNick(old, owner), this.report)
    member.nick = name
    this.registry.record(session.id, this.record(member))
    // Everyone in the room, the renamed included, hears of it from the stream, in order with its messages.
    unawaited(this.append(member, member.room!, { kind: 'nick', subject: member.subject, nick: name, previous: old }, 'set'), this.report)
  }

  /**
   * HISTORY: the last `count` messages of the member's room up to the last entry it was delivered, read from
   * the room's stream while what the room delivers meanwhile is held, to follow them.
   */
  private async history(member: Member, count: number): Promise<void> {
    const room = member.room!
    const upTo = await this.holdAtDelivered(member)
    await this.replay(
      member,
      async () => {
        const messages = await this.latestMessages(room, upTo ?? '+', count)
        return { lines: [...messages.map((message) => this.msgLine(member, room, message)), reply.historyEnd(room, messages.length)], messages: messages.length }
      },
      (refusal) => [reply.err(...refusal), reply.historyEnd(room, 0)]
    )
  }

  /** Once the member's own entries were delivered, holds what its room delivers: returns the last entry it was delivered. */
  private async holdAtDelivered(member: Member): Promise<string | null> {
    await this.ownDelivered(member)
    member.seat.hold()
    return this.rooms.get(member.room!)?.feed.delivered ?? null
  }

  /** Up to `count` latest messages of a room's stream up to `upTo` (an XREVRANGE end), oldest first. */
  private async latestMessages(room: string, upTo: string, count: number): Promise<HistoryEntry[]> {
    // Presence entries have no messages, and a msgs entry may have many: pages of entries until enough, or
    // until the stream's start (it keeps at most HISTORY_PAGES of them).
    const pages: HistoryEntry[][] = []
    let found = 0
    let end = upTo
    for (let read = 0; found < count && read < HISTORY_PAGES; read++) {
      const entries = (await this.store.latestEntries(room, end, HISTORY_PAGE)).reverse()
      const messages = messagesOf(entries, null)
      pages.unshift(messages)
      found += messages.length
      if (entries.length < HISTORY_PAGE) break
      end = `(${entries[0][0]}`
    }
    return pages.flat().slice(-count)
  }

  /**
   * RESUME: joins `room` (if not in it) and replays every message of its stream after the one `id` names,
   * up to the member's JOINED (or, in the room already, up to the last entry delivered to it), while what
   * the room delivers after that is held, to follow the replay. Its own JOINED, tagged with where live
   * traffic begins, comes first either way: a client drops what reached it live before it (the replay has
   * it). An id older than the stream's oldest entry (trimmed away, or expired with the emptied room), or one
   * no stream gives: `ERR history-gone` with the oldest message kept, and all that is kept is replayed; if
   * Redis fails the read, the gap is all of it (`ERR history-gone` with where live traffic begins).
   */
  private async resume(member: Member, room: string, id: string, at: number): Promise<void> {
    const { seat } = member
    let end: string
    /** In the room already: its JOINED goes with the replay (else the room's feed sent it, tagged). */
    let inRoom = false
    if (room === member.room) {
      end = (await this.holdAtDelivered(member)) ?? '+'
      inRoom = true
    } else {
      seat.holdFromEntry()
      let joined: string | void
      try {
        joined = await this.move(member, room, at)
      } finally {
        // Refused (the step's ERR says why) or turned away: nothing to replay, nothing to hold.
        if (member.room !== room || member.gone) seat.release(null, 0)
      }
      if (!joined) return
      end = `(${joined}`
      // Its JOINED delivered to it: the seat holds from there.
      await this.ownDelivered(member)
    }
    /** Where live traffic begins for it: after the range read (up to the last entry of it, without an end). */
    const here = (entries: StreamEntry[]): string => positionAfter(end === '+' ? (entries.at(-1)?.[0] ?? '0-0') : end.replace('(', ''))
    const joinedLine = (position: string) => (inRoom ? [this.ownJoined(member, room, position)] : [])
    const from = parseMessageId(id)
    await this.replay(
      member,
      async () => {
        const { oldest, entries } = await this.store.entriesFrom(room, from?.entry ?? '-', end)
        const gone = from === null || oldest === null || compareIds(from.entry, oldest) < 0
        const messages = messagesOf(entries, gone ? null : from)
        const lines = [...joinedLine(here(entries)), ...(gone ? [reply.err('history-gone', messages[0]?.id ?? here(entries))] : [])]
        for (const message of messages) lines.push(this.msgLine(member, room, message))
        return { lines: [...lines, reply.resumeEnd(room, messages.length)], messages: messages.length }
      },
      () => [...joinedLine(here([])), reply.err('history-gone', here([])), reply.resumeEnd(room, 0)]
    )
  }

  /**
   * Sends the member the lines `read` makes, then what its room delivered meanwhile; if Redis fails the read,
   * what `failed` makes of why (logged).
   */
  private async replay(
    member: Member,
    read: () => Promise<{ lines: string[]; messages: number }>,
    failed: (refusal: [ErrorCode, string]) => string[]
  ): Promise<void> {
    let replayed: { lines: string[]; messages: number }
    try {
      replayed = await read()
    } catch (error) {
      replayed = { lines: failed(this.refusal(member.session, error as Error)), messages: 0 }
    }
    member.seat.release(encodeLines(replayed.lines), replayed.messages)
  }

  /** Its own JOINED; for one that asked for ids, tagged with its place in the room (where a resume misses nothing from). */
  private ownJoined(member: Member, room: string, position: string | null): string {
    const joined = reply.joined(room, member.nick!)
    return member.seat.tagged && position !== null ? reply.tagged(position, joined) : joined
  }

  /** The member's place in its room now: after the last entry delivered here. */
  private here(member: Member): string | null {
    const delivered = this.rooms.get(member.room!)?.feed.delivered
    return delivered ? positionAfter(delivered) : null
  }

  private msgLine(member: Member, room: string, { id, nick, text }: HistoryEntry): string {
    return member.seat.tagged ? reply.taggedMsg(id, room, nick, text) : reply.msg(room, nick, text)
  }

  private async who(member: Member): Promise<void> {
    const room = member.room!
    await this.ownDelivered(member)
    const nicks = await this.store.roomNicks(room)
    for (const page of whoPages(room, nicks, this.options.maxLineBytes)) member.session.send(page)
  }

  // Appending and delivering.

  /** Appends a message with the others the node takes for the room this turn (TurnBatches). */
  private say(member: Member, room: string, text: string): Promise<{ room: string; id: string }> {
    // An entry's messages are lines: a line break in a text would forge a line of someone else's. The line
    // codec never yields one; this keeps it so whatever brings text here.
    if (text.includes('\n')) return Promise.reject(new Error('a chat text holds a line break'))
    const appended = this.batches.add(room, member.writer, { nick: member.nick!, text })
    member.lastAppend = appended
    return appended
  }

  /**
   * Appends one of the member's presence entries, which also updates the room's member hash ('farewell':
   * the member is gone, and its LEFT goes through even while Redis refuses writes for want of memory).
   */
  private append(member: Member, room: string, draft: Draft, presence: 'set' | 'del' | 'farewell'): Promise<{ room: string; id: string }> {
    const change = { op: presence === 'set' ? 'set' : 'del', farewell: presence === 'farewell', field: this.owner(member), nick: member.nick! } as const
    const appended = this.appendEntry(room, member.writer, draft, change).then((id) => ({ room, id }))
    member.lastAppend = appended
    // Seen, so never unhandled: whoever depends on the entry (the command's step, a reply) handles a refusal.
    appended.catch(() => {})
    return appended
  }

  private appendEntry(room: string, writer: Writer, draft: Draft, presence?: Presence): Promise<string> {
    // The messages taken before it go first.
    if (presence) this.batches.close(room)
    const state = this.rooms.get(room)
    // A room this node does not read (a dead node's session leaving it): a one-off origin of its own.
    const origin = state?.origin ?? this.newOrigin()
    const seq = state ? ++state.appended : 1
    const fields = entryFields({ ...draft, origin, seq } as NewEntry)
    const entryBytes = fields.reduce((sum, field) => sum + field.length, ENTRY_OVERHEAD)
    const maxLen = Math.max(STREAM_KEEP_MIN, Math.min(STREAM_KEEP, Math.floor(STREAM_BYTES / entryBytes)))
    const limits = { maxLen, emptyTtlS: this.options.tuning.emptyRoomTtlS }
    const sent = presence ? this.store.appendPresence(room, writer, limits, presence, fields) : this.store.appendMessages(room, writer, maxLen, fields)
    return sent.then(
      (id) => {
        this.appended++
        return id
      },
      (error: Error) => {
        // The refused entry's number was never used: readers would take the gap for entries trimmed or lost.
        // What follows starts an origin of its own (new numbers from 1), which readers take as just that.
        if (state && state.origin === origin) {
          state.origin = this.newOrigin()
          state.appended = 0
        }
        throw error
      }
    )
  }

  private newOrigin(): string {
    return `${this.run}.${++this.origins}`
  }

  /** Settles once the member's last entry has been delivered here (so to the member itself); nothing if none is pending. */
  private ownDelivered(member: Member): Promise<void> | void {
    const last = member.lastAppend
    if (!last) return
    return last
      .then(
        ({ room, id }) => {
          const state = this.rooms.get(room)
          // Not for ever: an entry whose stream went before this node read it (emptied and dropped, or
          // lost with Redis's data) will not come; by then the node has fenced, or the entry is lost.
          return state?.feed.afterDelivered(id, 2 * this.timing.leaseMs)?.then(() => this.releaseIfIdle(room, state))
        },
        // An entry Redis refused will not come back: nothing to wait for (its command was answered ERR).
        () => undefined
      )
      .then(() => {
        if (member.lastAppend === last) member.lastAppend = null
      })
  }

  private onEntries(key: string, entries: StreamEntry[]): void {
    if (key === this.inbox) return this.onInbox(entries)
    const room = keys.roomOfLog(key)
    const state = this.rooms.get(room)
    if (!state) return
    const { fresh, duplicates, missed } = state.feed.feed(entries)
    this.delivered += fresh
    this.duplicatesDropped += duplicates
    if (missed > 0) {
      this.entriesLost += missed
      this.options.log(`room ${room}: ${missed} entries were trimmed from its stream before this node read them; its members here missed them`, true)
    }
    this.releaseIfIdle(room, state)
  }

  /** The session gets nothing more of the room; the room is let go once nothing here needs it. */
  private stopHearing(room: string, subject: string): void {
    const state = this.rooms.get(room)
    if (!state) return
    state.feed.forget(subject)
    this.releaseIfIdle(room, state)
  }

  /**
   * Stops reading a room no local session hears, joins or waits on: the blocking read names only rooms with
   * members here. Entries of its still in flight are dropped (onEntries finds no state).
   */
  private releaseIfIdle(room: string, state: Room): void {
    if (!state.feed.idle || this.rooms.get(room) !== state) return
    this.rooms.delete(room)
    this.reader.unwatch(keys.roomLog(room))
  }

  private onInbox(entries: StreamEntry[]): void {
    for (const [, fields] of entries) {
      if (fields[0] === 'kick') this.options.kick(Number(fields[1]), fields[3] ?? 'by another node')
    }
  }

  /** Appends LEFT for each session of a dead node, on its behalf, so every node's members hear of it in order. */
  private async reap(orphans: OrphanSession[]): Promise<void> {
    await Promise.all(
      orphans.map(({ node, id, record: { room, nick, subject } }) => {
        const field = memberOf(node, id)
        return room === null ? undefined : this.appendEntry(room, this.registry.lease.writer, { kind: 'left', subject, nick, at: Date.now() }, { op: 'del', field, nick, farewell: true })
      })
    )
  }

  /**
   * Redis lost this node's registration with its data (a restart without persistence, a FLUSHALL): nobody
   * reaped it, its sessions are still in their rooms here. Register them again: records, member hashes and
   * nicks, before anyone may claim a nick (the settling window). A nick another session got meanwhile
   * (Redis came back after the window) is not shared: this node's holder is told and closed.
   */
  private async restore(): Promise<void> {
    const { nickTtlS } = this.timing
    await Promise.all(
      [...this.members.values()].map(async (member) => {
        const { nick, room, session } = member
        if (nick === null) return
        this.registry.record(session.id, this.record(member))
        if (room !== null) unawaited(this.store.restoreMember(room, this.owner(member), nick), this.report)
        if (GUEST_NICK.test(nick) || (await this.store.reassertNick(nick, this.owner(member), nickTtlS))) return
        this.refuse(session, 'unavailable', `your nick ${nick} went to another session while the cluster's Redis was away; reconnect`)
        session.end(`nick ${nick} lost with Redis's data`)
      })
    )
    this.options.log(`${this.members.size} sessions registered again`)
  }

  /** The lease may have lapsed: every session is told and closed now, before any other node may reap them. */
  private fenced(why: string): void {
    for (const session of this.members.keys()) this.turnAway(session, this.unavailable(why))
  }

  private room(name: string): Room {
    let state = this.rooms.get(name)
    if (!state) {
      state = { feed: new RoomFeed(name, this.options.presenceLimit), origin: this.newOrigin(), appended: 0 }
      this.rooms.set(name, state)
    }
    return state
  }

  private *heldNicks(): Iterable<string> {
    for (const { nick } of this.members.values()) if (nick !== null && !GUEST_NICK.test(nick)) yield nick
  }

  private owner(member: Member): string {
    return memberOf(this.nodeId, member.session.id)
  }

  private record(member: Member): SessionRecord {
    const { session } = member
    return { subject: member.subject, nick: member.nick!, room: member.room, user: session.user, remote: session.remote, listener: session.listener, connectedAt: session.connectedAt }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
/** An entry as a node drafts it: its origin and sequence number are added when it is appended. */
type Draft = DistributiveOmit<NewEntry, 'origin' | 'seq'>
