import { encodeLines } from '../codec/line'
import { reply } from '../protocol/replies'
import { announce } from '../server/room-lines'
import { parseEntry, type RoomEntry } from './room-entry'
import type { FeedListener } from './seat'
import { SeqGuard } from './seq-guard'
import { compareIds, idTime, messageId, positionAfter } from './stream-id'
import type { StreamEntry } from './stream-reader'

/**
 * A JOINED or LEFT that reached Redis this long after its node took it waited out an outage: such presence
 * is coalesced (see RoomFeed.feed), so members are not flushed the backlog line by line.
 */
const PILED_UP_MS = 1000

/** What one batch of a room's entries came to. */
export interface FeedCounts {
  /** Entries acted on (delivered, or presence applied). */
  fresh: number
  /** Second copies of entries already read (a command resent after a reconnect), dropped. */
  duplicates: number
  /** Entries missing from an origin's sequence: trimmed away, or lost by Redis, before this node read them. */
  missed: number
}

/**
 * One room as a node reads it: fed the room's stream entries in order, it decides who of the node's own
 * sessions hears what. A local session joins when its own JOINED entry is read (so it hears nothing from
 * before it) and stops hearing the room after its own LEFT (which it hears too). It knows nothing of Redis:
 * tested, like the codecs, by feeding it entries.
 */
export class RoomFeed {
  private readonly guard = new SeqGuard()
  /** Local sessions whose JOINED entry was appended and not yet read back, by subject. */
  private readonly joining = new Map<string, FeedListener>()
  /** Local sessions that hear the room, by subject. */
  private readonly active = new Map<string, FeedListener>()
  /** Replies waiting for an entry to have been delivered here. */
  private waiters: { id: string; resolve: () => void }[] = []
  /** The ID of the last entry read. */
  delivered: string | null = null
  /** How far behind the stream this node reads it (this node's clock minus the last entry's). */
  lagMs: number | null = null

  constructor(
    readonly room: string,
    private readonly presenceLimit: number
  ) {}

  get members(): number {
    return this.active.size
  }

  /** Whether nothing here needs the room any more: nobody hears it, joins it or waits on it. */
  get idle(): boolean {
    return this.active.size === 0 && this.joining.size === 0 && this.waiters.length === 0
  }

  /** A local session's JOINED entry is on its way: it hears the room from that entry on. */
  expect(subject: string, listener: FeedListener): void {
    this.joining.set(subject, listener)
  }

  /** Its JOINED entry was refused: it will not come. */
  cancel(subject: string): void {
    this.joining.delete(subject)
  }

  /** The session is gone: it hears nothing more, whatever of its entries is still to come. */
  forget(subject: string): void {
    this.joining.delete(subject)
    this.active.delete(subject)
  }

  /**
   * Settles once the entry `id` has been delivered here, or after `giveUpMs` (an entry whose stream went
   * before it was read never comes: its waiter must not hold the room, or the session, for ever); nothing
   * if it already has been.
   */
  afterDelivered(id: string, giveUpMs: number): Promise<void> | void {
    if (this.delivered !== null && compareIds(this.delivered, id) >= 0) return
    return new Promise<void>((resolve) => {
      const waiter = {
        id,
        resolve: () => {
          clearTimeout(timer)
          resolve()
        }
      }
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((other) => other !== waiter)
        resolve()
      }, giveUpMs)
      this.waiters.push(waiter)
    })
  }

  /**
   * Takes the next entries of the room's stream, in stream order. Presence that piled up during an outage
   * is coalesced: a session that came and went meanwhile (its JOINED and LEFT both late, in one batch, with
   * nothing of its own between) is not announced at all; the others' presence is announced once each.
   */
  feed(entries: StreamEntry[], now = Date.now()): FeedCounts {
    const counts: FeedCounts = { fresh: 0, duplicates: 0, missed: 0 }
    if (entries.length === 0) return counts
    const parsed = entries.map(([id, fields]) => ({ id, entry: parseEntry(fields) }))
    const silent = this.cameAndWent(parsed)
    // Messages are framed once, into one buffer for every member here, up to the next presence entry
    // (which may change who the members are): one buffer per member however many entries the read brought.
    const lines: string[] = []
    /** Where each entry's messages start in `lines`, for their ids. */
    const starts: Start[] = []
    for (const [i, { id, entry }] of parsed.entries()) {
      if (entry === null) continue
      const verdict = this.guard.check(entry.origin, entry.seq)
      if (!verdict.fresh) {
        counts.duplicates++
        continue
      }
      counts.missed += verdict.missed
      counts.fresh++
      if (entry.kind === 'msgs') {
        starts.push({ line: lines.length, id })
        for (const { nick, text } of entry.messages) lines.push(reply.msg(this.room, nick, text))
        continue
      }
      this.deliver(lines, starts)
      if (!silent.has(i)) this.apply(id, entry)
    }
    this.deliver(lines, starts)
    const last = entries[entries.length - 1][0]
    this.delivered = last
    this.lagMs = Math.max(0, now - idTime(last))
    const waiting = this.waiters
    this.waiters = []
    for (const waiter of waiting) {
      if (compareIds(waiter.id, last) <= 0) waiter.resolve()
      else this.waiters.push(waiter)
    }
    return counts
  }

  /**
   * The indexes of late JOINED/LEFT pairs of sessions that came and went (not this node's joiners). One that
   * said something meanwhile is announced: its messages name it by nick, its presence entries by subject.
   */
  private cameAndWent(parsed: { id: string; entry: RoomEntry | null }[]): Set<number> {
    const silent = new Set<number>()
    /** Late joiners not seen since, by subject: where their JOINED is, and the nick they joined as. */
    const came = new Map<string, { at: number; nick: string }>()
    for (const [i, { id, entry }] of parsed.entries()) {
      if (entry === null) continue
      if (entry.kind === 'msgs') {
        // A late joiner that spoke is announced: every joiner of its nick (after Redis lost its data, a guest
        // number may be handed out twice).
        if (came.size > 0) {
          const spoke = new Set(entry.messages.map(({ nick }) => nick))
          for (const [subject, joined] of came) if (spoke.has(joined.nick)) came.delete(subject)
        }
        continue
      }
      const late = (entry.kind === 'joined' || entry.kind === 'left') && entry.at !== null && idTime(id) - entry.at > PILED_UP_MS
      const joined = came.get(entry.subject)
      came.delete(entry.subject)
      if (late && entry.kind === 'joined' && !this.joining.has(entry.subject)) came.set(entry.subject, { at: i, nick: entry.nick })
      else if (late && entry.kind === 'left' && joined !== undefined) silent.add(joined.at).add(i)
    }
    return silent
  }

  /**
   * Sends the messages gathered so far to every member here, and empties `lines` and `starts`. Those that
   * asked for ids get a second frame, made only if one of them is here: tagging costs nothing otherwise.
   */
  private deliver(lines: string[], starts: Start[]): void {
    if (lines.length === 0) return
    const frame = encodeLines(lines)
    let tagged: Buffer | null = null
    for (const member of this.active.values()) {
      if (member.tagged) member.send((tagged ??= encodeLines(tag(lines, starts))), lines.length)
      else member.send(frame, lines.length)
    }
    lines.length = 0
    starts.length = 0
  }

  private apply(id: string, entry: Exclude<RoomEntry, { kind: 'msgs' }>): void {
    const { room } = this
    switch (entry.kind) {
      case 'joined': {
        const joiner = this.joining.get(entry.subject) ?? null
        if (joiner) {
          this.joining.delete(entry.subject)
          this.active.set(entry.subject, joiner)
        }
        const joined = reply.joined(room, entry.nick)
        // One that asked for ids learns where in the room's stream it came in: a resume from there misses nothing.
        announce(this.active.values(), entry.count, joiner, joined, this.presenceLimit, joiner?.tagged ? reply.tagged(positionAfter(id), joined) : joined)
        return joiner?.entered?.()
      }
      case 'left': {
        const leaver = this.active.get(entry.subject) ?? null
        announce(this.active.values(), entry.count, leaver, reply.left(room, entry.nick), this.presenceLimit)
        this.active.delete(entry.subject)
        return
      }
      case 'nick':
        return announce(this.active.values(), entry.count, this.active.get(entry.subject) ?? null, reply.nick(entry.previous, entry.nick), this.presenceLimit)
      case 'void':
        return
    }
  }
}

/** The first of an entry's messages among the lines of a delivery, and the entry's stream ID. */
interface Start {
  line: number
  id: string
}

/** The lines with their messages' ids (`<entry ID>.<index in the entry>`) as tags. */
function tag(lines: string[], starts: Start[]): string[] {
  const tagged: string[] = []
  for (const [s, { line: first, id }] of starts.entries()) {
    const end = starts[s + 1]?.line ?? lines.length
    for (let k = first; k < end; k++) tagged.push(reply.tagged(messageId(id, k - first), lines[k]))
  }
  return tagged
}
