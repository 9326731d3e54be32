/**
 * What a byte of a line waiting on Redis costs in memory: its text is held as the parsed command, as the
 * entry's fields, as ioredis's command and as the socket's unsent buffer. Counting payload bytes alone would
 * let RSS grow several times past the bound (test/cluster-memory.test.ts).
 */
const HELD_PER_BYTE = 4
/** And what a line costs whatever its size: command objects, promises, the step that waits for it. */
const HELD_PER_LINE = 1024

/** A line refused for the node's bound. */
export class BacklogFull extends Error {}

/**
 * The messages this node has taken and Redis has not yet answered (queued behind a session's JOIN, or
 * appended), estimated as the memory they hold, under one bound for the whole node: a per-session cap alone
 * grows with the sessions (100 sessions sending 4 KB lines into a Redis stall grew a node by ~250 MB).
 * Past the bound, a message is refused, and `pressure` pauses every session's reading until what is held
 * is down to half: refused lines waiting their turn would hold memory of their own, a crowd's worth.
 */
export class Backlog {
  /** Estimated bytes held now. */
  held = 0
  /** Lines refused for the bound. */
  refused = 0
  private full = false

  constructor(
    readonly limitBytes: number,
    private readonly pressure: (full: boolean) => void
  ) {}

  /** Whether a line of `bytes` fits; counts it refused if not. */
  admits(bytes: number): boolean {
    if (this.held + cost(bytes) <= this.limitBytes) return true
    this.refused++
    // Pressed only while enough is held for its release to lift the pressure: a single line larger than
    // the whole bound, refused with little held, must not pause reading for good.
    if (!this.full && this.held > this.limitBytes / 2) {
      this.full = true
      this.pressure(true)
    }
    return false
  }

  /** Holds a line's cost until `done` settles (its append answered, or refused); at once if nothing waits. */
  hold(bytes: number, done: Promise<unknown> | void): void {
    if (!done) return
    const held = cost(bytes)
    this.held += held
    const release = () => {
      this.held -= held
      if (this.full && this.held <= this.limitBytes / 2) {
        this.full = false
        this.pressure(false)
      }
    }
    done.then(release, release)
  }
}

const cost = (bytes: number) => HELD_PER_LINE + HELD_PER_BYTE * bytes
