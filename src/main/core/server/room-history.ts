import { randomInt } from 'node:crypto'

/** How much a node keeps of each room's messages, and of all rooms together (bytes counted as text). */
export interface HistoryLimits {
  /** Messages kept per room; 0 keeps none. */
  historyMessages: number
  historyBytes: number
  /** All rooms together; past it the rooms written least lately are forgotten first. */
  maxTotalHistoryBytes: number
}

export interface HistoryEntry {
  id: string
  nick: string
  text: string
}

/** What a resume finds after the id it was given: the entries since, and if some were not kept, the oldest that was. */
export interface Resumed {
  entries: HistoryEntry[]
  /** The oldest id still kept when the one given is older (or of another run of the server); null when nothing is missing. */
  gone: string | null
}

const asEntry = ({ id, nick, text }: HistoryEntry): HistoryEntry => ({ id, nick, text })

interface Ring {
  entries: (HistoryEntry & { seq: number; bytes: number })[]
  bytes: number
  /** The highest seq this room may have lost (dropped from its ring, or forgotten before the ring was made). */
  lostUpTo: number
}

/**
 * The last messages of every room on a node on its own, each with an id: `<epoch>-<seq>`, the epoch this
 * run of the server and seq the node's count of messages (both base 36), so ids increase within every room
 * and a room forgotten and written again never gives an id twice. An id of an earlier run is another epoch:
 * its messages are gone, and a resume from it says so rather than replaying from a seq that means something
 * else now. Ids are opaque to clients, and short: a tagged MSG line carries one, and a broadcast is bytes.
 */
export class RoomHistory {
  /** Six random base-36 characters: two runs share one once in two billion. */
  private readonly epoch = randomInt(36 ** 6).toString(36).padStart(6, '0')
  /** Rooms with messages kept, in the order they were last written: the first is the one to forget when over the total. */
  private readonly rooms = new Map<string, Ring>()
  private nextSeq = 1
  /** The highest seq of a room forgotten whole: a room without a ring may have lost up to it. */
  private forgottenUpTo = 0
  private totalBytes = 0

  constructor(private readonly limits: HistoryLimits) {}

  /** Keeps one message and returns its id (an id is given even when nothing is kept). */
  append(room: string, nick: string, text: string): string {
    const seq = this.nextSeq++
    const id = this.idOf(seq)
    if (this.limits.historyMessages === 0) {
      // Nothing is kept: every message is lost as soon as it is sent, and a resume from before it must say so.
      this.forgottenUpTo = seq
      return id
    }
    const ring = this.rooms.get(room) ?? { entries: [], bytes: 0, lostUpTo: this.forgottenUpTo }
    this.rooms.delete(room)
    this.rooms.set(room, ring)
    const bytes = nick.length + text.length + 32
    ring.entries.push({ id, nick, text, seq, bytes })
    ring.bytes += bytes
    this.totalBytes += bytes
    while (ring.entries.length > this.limits.historyMessages || ring.bytes > this.limits.historyBytes) this.dropOldest(ring)
    for (const [name, oldest] of this.rooms) {
      if (this.totalBytes <= this.limits.maxTotalHistoryBytes || oldest === ring) break
      this.forget(name, oldest)
    }
    return id
  }

  /** The id of the last message of any room: a resume from it gets every message after now. */
  position(): string {
    return this.idOf(this.nextSeq - 1)
  }

  /** The last `count` messages of `room`, oldest first. */
  latest(room: string, count: number): HistoryEntry[] {
    return (this.rooms.get(room)?.entries ?? []).slice(-count).map(asEntry)
  }

  /** Every kept message of `room` after `id`; `gone` names where what is kept starts, if some after `id` were lost. */
  after(room: string, id: string): Resumed {
    const ring = this.rooms.get(room)
    const entries = ring?.entries ?? []
    const seq = this.seqOf(id)
    const lostUpTo = ring?.lostUpTo ?? this.forgottenUpTo
    // Of another run, or a number not given yet: nothing tells what came after it, so all that is kept is replayed.
    const known = seq !== null && seq < this.nextSeq
    const gone = !known || seq < lostUpTo ? (entries[0]?.id ?? this.idOf(this.nextSeq)) : null
    return { entries: (known ? entries.filter((entry) => entry.seq > seq) : entries).map(asEntry), gone }
  }

  private dropOldest(ring: Ring): void {
    const dropped = ring.entries.shift()!
    ring.bytes -= dropped.bytes
    ring.lostUpTo = dropped.seq
    this.totalBytes -= dropped.bytes
  }

  private forget(room: string, ring: Ring): void {
    this.totalBytes -= ring.bytes
    this.forgottenUpTo = Math.max(this.forgottenUpTo, ring.entries.at(-1)?.seq ?? 0)
    this.rooms.delete(room)
  }

  private seqOf(id: string): number | null {
    const dash = id.lastIndexOf('-')
    if (dash === -1 || id.slice(0, dash) !== this.epoch) return null
    const digits = id.slice(dash + 1)
    const seq = parseInt(digits, 36)
    return /^[0-9a-z]{1,10}$/.test(digits) && Number.isSafeInteger(seq) ? seq : null
  }

  private idOf(seq: number): string {
    return `${this.epoch}-${seq.toString(36)}`
  }
}
