/** What a reader makes of an entry's place in its origin's sequence. */
export type SeqVerdict = { fresh: true; missed: number } | { fresh: false }

/**
 * Per room, the last sequence number read from each origin (a node's run). A node appends a room's entries
 * in order on one connection, so its numbers rise by one in the stream: a number already seen is a second
 * copy (ioredis resent a command whose reply a reconnect lost) and is dropped; a jump is entries trimmed
 * away before this reader got to them. An origin's first entry sets its baseline: a reader starts mid-stream.
 */
export class SeqGuard {
  private readonly last = new Map<string, number>()

  check(origin: string, seq: number): SeqVerdict {
    const last = this.last.get(origin)
    if (last !== undefined && seq <= last) return { fresh: false }
    this.last.set(origin, seq)
    return { fresh: true, missed: last === undefined ? 0 : seq - last - 1 }
  }
}
