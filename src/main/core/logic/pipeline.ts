import type { Command } from '../protocol/commands'
import type { LogicExecutor } from './executor'
import type { LogicBatch, LogicResult } from './types'

export interface PipelineEntry {
  /** The frame for the logic step, or null for an ordering marker (a session's end) only the commit sees. */
  frame: Buffer | null
  /** Parse the frame as a line-protocol command (else it is an opaque body passed through). */
  parse: boolean
}

/** The outcome of a frame the logic step failed on even alone: its sender is told, nobody else is touched. */
export const FRAME_FAILED: Extract<Command, { verb: 'ERR' }> = { verb: 'ERR', code: 'internal', text: 'the server failed to process this message' }

export interface PipelineOptions<E extends PipelineEntry> {
  /** Applies one entry's outcome on the I/O thread; called in exactly the order entries were pushed. */
  commit(entry: E, command: Command | null): void
  /** Called with true when the frames waiting reach highWater (stop reading), false once back at lowWater. */
  onPressure(paused: boolean): void
  /** A batch failed on its thread (or passed its deadline) and is redone inline. */
  onBatchRedone(error: unknown, timedOut: boolean): void
  /** One frame failed even alone, inline: it is committed as FRAME_FAILED. */
  onFrameFailed(entry: E, error: unknown): void
  /** commit() threw: a bug, but one entry's, so the pipeline carries on with the next. */
  onCommitFailed(entry: E, error: unknown): void
  maxBatch: number
  maxInFlight: number
  highWater: number
  lowWater: number
  spinIterations: number
  /** How long a thread may take over one batch before it is ended and the batch redone inline; 0 = no limit. */
  batchDeadlineMs: number
}

interface InFlight<E> {
  entries: E[]
  result?: LogicResult
  /** Aborts the batch's task, ending its thread; set while its deadline runs. */
  abort?: AbortController
  deadline?: NodeJS.Timeout
  timedOut?: boolean
}

const NO_RESULT: LogicResult = { commands: [], checksum: 0, busyMs: 0 }

/**
 * Work below this (ms, as the threads report it) is cheap: handing a batch to a thread and taking its result
 * back costs tens of µs of CPU on both sides, more than parsing a few dozen lines takes. What's waiting is
 * split over the threads in parts of about this much work or more.
 */
const CHEAP_MS = 0.1

/**
 * The queue between networking and logic. Entries are cut into batches (one task each, not one per
 * message); several batches may run at once on different threads and finish in any order, but their
 * results are committed strictly in push order, so every receiver sees one global order: a sender's
 * messages stay in order and all members of a room agree.
 */
export class LogicPipeline<E extends PipelineEntry> {
  private queue: E[] = []
  private inFlight: InFlight<E>[] = []
  private inFlightEntries = 0
  /** Entries that carry a frame (markers excluded): what the high-water mark bounds. */
  private frames = 0
  private peak = 0
  private dispatchScheduled = false
  private paused = false
  private idleWaiters: (() => void)[] = []
  /** The executor is closing: a batch it gives up on now is not redone, nobody is left to answer. */
  private closing = false
  /** Total time the executor's threads spent on batches so far. */
  busyMs = 0
  /** The logic step's recent time per frame (ms): what a batch is expected to take; null before the first. */
  private msPerFrame: number | null = null
  batchesRedone = 0
  batchTimeouts = 0

  constructor(
    private readonly executor: LogicExecutor,
    private readonly options: PipelineOptions<E>
  ) {}

  /** Entries accepted and not yet committed. */
  get depth(): number {
    return this.queue.length + this.inFlightEntries
  }

  get batchesInFlight(): number {
    return this.inFlight.length
  }

  /** The most frames waiting at once since the last call: a 4 Hz sample of depth would miss the peaks. */
  takePeak(): number {
    const peak = this.peak
    this.peak = this.frames
    return peak
  }

  push(entry: E): void {
    this.queue.push(entry)
    if (entry.frame !== null && ++this.frames > this.peak) this.peak = this.frames
    if (!this.paused && this.frames >= this.options.highWater) {
      this.paused = true
      this.options.onPressure(true)
    }
    this.scheduleDispatch()
  }

  /** Called before the executor is closed: what it still rejects is committed unanswered, not redone. */
  close(): void {
    this.closing = true
    for (const slot of this.inFlight) if (slot.deadline) clearTimeout(slot.deadline)
  }

  /** Resolves once everything pushed so far is committed. */
  whenIdle(): Promise<void> {
    if (this.depth === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private scheduleDispatch(): void {
    if (this.dispatchScheduled) return
    this.dispatchScheduled = true
    // Wait for the rest of this event-loop turn's input, so batches fill up under load.
    setImmediate(() => {
      this.dispatchScheduled = false
      this.dispatch()
    })
  }

  private dispatch(): void {
    const expectedMs = this.msPerFrame === null ? Infinity : this.queue.length * this.msPerFrame
    // Cheap work goes whole, one batch at a time: what arrives meanwhile waits for it and goes as the next
    // batch, rather than as a handover of its own each turn. Real work is spread over the threads: one big
    // batch would leave all but one of them idle.
    const cheap = expectedMs < CHEAP_MS
    const shares = cheap ? 1 : Math.max(1, Math.min(this.executor.threads, Math.ceil(expectedMs / CHEAP_MS)))
    const size = Math.min(this.options.maxBatch, Math.ceil(this.queue.length / shares))
    const inFlightLimit = cheap ? 1 : this.options.maxInFlight
    while (this.queue.length > 0 && this.inFlight.length < inFlightLimit) {
      const entries = this.queue.splice(0, size)
      const slot: InFlight<E> = { entries }
      this.inFlight.push(slot)
      this.inFlightEntries += entries.length
      this.run(slot)
    }
  }

  private run(slot: InFlight<E>): void {
    const batch = this.pack(slot.entries)
    // Markers alone (sessions ending) need no thread: commit them in their turn, never via a pool that may be closing.
    if (batch.ends.length === 0) {
      Promise.resolve().then(() => this.complete(slot, NO_RESULT))
      return
    }
    // Only a thread can be given up on: the I/O thread running a batch inline is the one that would wait.
    if (this.options.batchDeadlineMs > 0 && this.executor.threads > 0) slot.abort = new AbortController()
    this.executor.run(batch, slot.abort?.signal).then(
      (result) => {
        this.disarm(slot)
        this.learn(result)
        this.complete(slot, result)
      },
      (error: unknown) => {
        this.disarm(slot)
        void this.redo(slot, error)
      }
    )
    this.armDeadlines()
  }

  /** What a batch run as usual on its thread says a frame costs (a redo, or a failure's stand-in, says nothing of it). */
  private learn(result: LogicResult): void {
    if (result.commands.length === 0) return
    const msPerFrame = result.busyMs / result.commands.length
    this.msPerFrame = this.msPerFrame === null ? msPerFrame : 0.8 * this.msPerFrame + 0.2 * msPerFrame
  }

  /**
   * A batch's deadline runs from when it has a thread, not from when it was handed over: up to two
   * batches per thread are in flight, and the second waits for the first. The executor runs them in
   * order, so the oldest unfinished ones, one per thread, are the ones running.
   */
  private armDeadlines(): void {
    // Closing: the pool ends every thread itself, and a timer armed now would only hold the process open.
    if (this.closing) return
    let running = 0
    for (const slot of this.inFlight) {
      if (slot.result || !slot.abort) continue
      if (running++ === this.executor.threads) return
      const abort = slot.abort
      slot.deadline ??= setTimeout(() => ((slot.timedOut = true), abort.abort()), this.options.batchDeadlineMs)
    }
  }

  private disarm(slot: InFlight<E>): void {
    if (slot.deadline) clearTimeout(slot.deadline)
    slot.abort = undefined
    this.armDeadlines()
  }

  /** A batch its thread did not finish (it threw, died, or hung) is redone inline: accepted frames are never lost. */
  private async redo(slot: InFlight<E>, error: unknown): Promise<void> {
    let result: LogicResult = { commands: slot.entries.filter((entry) => entry.frame !== null).map(() => FRAME_FAILED), checksum: 0, busyMs: 0 }
    try {
      // A pool being closed rejects what it still holds: nobody is left to answer, so it is not redone.
      if (this.closing) return
      this.batchesRedone++
      if (slot.timedOut) this.batchTimeouts++
      this.options.onBatchRedone(error, slot.timedOut === true)
      try {
        result = await this.executor.runInline(this.pack(slot.entries))
      } catch {
        result = await this.isolate(slot.entries)
      }
    } finally {
      // Whatever happened above, the slot completes: a slot left open would hold every later commit.
      this.complete(slot, result)
    }
  }

  /** A batch that fails inline too holds poison: its frames run one by one, so only the poisoned ones fail. */
  private async isolate(entries: E[]): Promise<LogicResult> {
    const commands: (Command | null)[] = []
    let busyMs = 0
    for (const entry of entries) {
      if (entry.frame === null) continue
      try {
        const alone = await this.executor.runInline(this.pack([entry]))
        commands.push(alone.commands[0])
        busyMs += alone.busyMs
      } catch (error) {
        commands.push(FRAME_FAILED)
        this.options.onFrameFailed(entry, error)
      }
    }
    return { commands, checksum: 0, busyMs }
  }

  private pack(entries: E[]): LogicBatch {
    let count = 0
    let total = 0
    for (const entry of entries) {
      if (entry.frame === null) continue
      count++
      if (entry.parse) total += entry.frame.length
    }
    // Own ArrayBuffers (not Buffer's shared pool), so they can be transferred rather than copied.
    const bytes = new Uint8Array(total)
    const ends = new Uint32Array(count)
    const parse = new Uint8Array(count)
    let offset = 0
    let i = 0
    for (const entry of entries) {
      if (entry.frame === null) continue
      if (entry.parse) {
        bytes.set(entry.frame, offset)
        offset += entry.frame.length
        parse[i] = 1
      }
      ends[i++] = offset
    }
    return { bytes, ends, parse, spinIterations: this.options.spinIterations }
  }

  private complete(slot: InFlight<E>, result: LogicResult): void {
    slot.result = result
    this.busyMs += result.busyMs
    while (this.inFlight.length > 0 && this.inFlight[0].result) {
      const done = this.inFlight.shift()!
      this.inFlightEntries -= done.entries.length
      let i = 0
      for (const entry of done.entries) {
        if (entry.frame !== null) this.frames--
        try {
          this.options.commit(entry, entry.frame === null ? null : done.result!.commands[i++])
        } catch (error) {
          this.options.onCommitFailed(entry, error)
        }
      }
    }
    if (this.paused && this.frames <= this.options.lowWater) {
      this.paused = false
      this.options.onPressure(false)
    }
    if (this.depth === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve())
    if (this.queue.length > 0) this.scheduleDispatch()
  }
}
