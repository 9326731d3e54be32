import type { LogKind } from '../../../shared/telemetry'
import type { Session } from './session'

export interface ReadGateOptions {
  /** Frames in the logic queue at which every session's reading pauses (the pipeline tells us). */
  highWater: number
  /** Frames of one session at which that session alone pauses; it may read again at half. */
  sessionHighWater: number
  log(kind: LogKind, text: string): void
}

/**
 * What pauses every session's reading: the logic queue past its mark, or, on a node of a cluster, what it
 * holds waiting on Redis past its bound (the line backend says so).
 */
export type Pressure = 'logic' | 'backlog'

/**
 * Decides who may read. Pressure is per session first: a session with its share of the logic queue
 * pauses itself, so one heavy sender pauses before it pauses the rest. Past the whole queue's mark every
 * session pauses at its next frame. Paused sessions wait in one FIFO and resume in that order once the
 * queue and their own share allow, so a flood is read in turns and nobody waits forever.
 */
export class ReadGate {
  /** What presses on the whole node now: while anything does, every session pauses at its next frame. */
  private readonly pressed = new Set<Pressure>()
  /** Sessions holding a refused frame, in the order they were refused; a Set keeps insertion order. */
  private readonly waiting = new Set<Session>()
  private readonly sessionLowWater: number
  private resumeScheduled = false
  private shutDown = false
  /** What the log last said, and how often the gate changed since: a flood flips it many times a second. */
  private logged = false
  private changes = 0
  private logTimer: NodeJS.Timeout | null = null

  constructor(private readonly options: ReadGateOptions) {
    this.sessionLowWater = Math.floor(options.sessionHighWater / 2)
  }

  /** Sessions held back right now. */
  get held(): number {
    return this.waiting.size
  }

  /** May this session's next frame enter the logic queue? If not, it waits its turn in the FIFO. */
  admit(session: Session): boolean {
    // Stopping: nothing more is read, and nobody waits for a turn that will not come.
    if (this.shutDown) return false
    if (this.closed || session.framesInLogic >= this.options.sessionHighWater) {
      this.waiting.add(session)
      return false
    }
    session.framesInLogic++
    return true
  }

  /** One of the session's frames left the logic queue (committed, or dropped before it). */
  release(session: Session): void {
    if (--session.framesInLogic === this.sessionLowWater && this.waiting.has(session)) this.scheduleResume()
  }

  get closed(): boolean {
    return this.pressed.size > 0
  }

  /** A pressure signal for the whole node: the pipeline's for its queue, the line backend's for its backlog. */
  press(source: Pressure, on: boolean): void {
    if (on === this.pressed.has(source)) return
    if (on) this.pressed.add(source)
    else this.pressed.delete(source)
    this.changes++
    this.logChange()
    if (!this.closed) this.scheduleResume()
  }

  forget(session: Session): void {
    this.waiting.delete(session)
  }

  /** Nothing is read any more: the server is stopping. */
  shutdown(): void {
    this.shutDown = true
    this.waiting.clear()
    if (this.logTimer) clearTimeout(this.logTimer)
  }

  private scheduleResume(): void {
    if (this.resumeScheduled) return
    this.resumeScheduled = true
    // Not inside a commit: resuming decodes frames, which push into the pipeline that is committing.
    setImmediate(() => {
      this.resumeScheduled = false
      this.resumeInTurn()
    })
  }

  /**
   * Resumes waiting sessions oldest first. A resumed session that fills its share again is refused and
   * joins the back of the FIFO (a Set iteration then meets it again, but past its low mark, so it is
   * skipped); the round ends when the whole queue is full again, the rest keeping their places.
   */
  private resumeInTurn(): void {
    for (const session of this.waiting) {
      if (this.closed || this.shutDown) return
      if (session.framesInLogic > this.sessionLowWater) continue
      this.waiting.delete(session)
      session.resumeReading()
    }
  }

  private logChange(): void {
    if (this.logTimer || this.closed === this.logged) return
    const often = this.changes > 1 ? ` (${this.changes} pauses and resumes since the last report)` : ''
    const why = [...this.pressed].map((source) => (source === 'logic' ? `logic queue at ${this.options.highWater}` : 'Redis backlog at its bound'))
    const what = this.closed ? `${why.join(', ')}: reading paused` : 'pressure gone: reading resumed'
    this.options.log('pressure', `${what}${often}`)
    this.logged = this.closed
    this.changes = 0
    this.logTimer = setTimeout(() => {
      this.logTimer = null
      this.logChange()
    }, 1000)
    this.logTimer.unref()
  }
}
