import type { Command } from '../protocol/commands'
import type { LogicExecutor } from './executor'
import { processBatch } from './process-batch'
import type { LogicBatch, LogicResult } from './types'

export interface PipelineEntry {
  /** The frame for the logic step, or null for an ordering marker (a session's end) only the commit sees. */
  frame: Buffer | null
  /** Parse the frame as a line-protocol command (else it is an opaque body passed through). */
  parse: boolean
}

export interface PipelineOptions<E extends PipelineEntry> {
  /** Applies one entry's outcome on the I/O thread; called in exactly the order entries were pushed. */
  commit(entry: E, command: Command | null): void
  /** Called with true when the backlog passes highWater (stop reading sockets), false once it is back under lowWater. */
  onPressure(paused: boolean): void
  onExecutorError(error: unknown): void
  maxBatch: number
  maxInFlight: number
  highWater: number
  lowWater: number
  spinIterations: number
}

interface InFlight<E> {
  entries: E[]
  result?: LogicResult
}

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
  private dispatchScheduled = false
  private paused = false
  private idleWaiters: (() => void)[] = []
  /** Total time the executor's threads spent on batches so far. */
  busyMs = 0

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

  push(entry: E): void {
    this.queue.push(entry)
    if (!this.paused && this.depth >= this.options.highWater) {
      this.paused = true
      this.options.onPressure(true)
    }
    this.scheduleDispatch()
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
    // Spread what is waiting over the threads: one big batch would leave all but one of them idle.
    const perThread = Math.ceil(this.queue.length / Math.max(1, this.executor.threads))
    const size = Math.min(this.options.maxBatch, perThread)
    while (this.queue.length > 0 && this.inFlight.length < this.options.maxInFlight) {
      const entries = this.queue.splice(0, size)
      const slot: InFlight<E> = { entries }
      this.inFlight.push(slot)
      this.inFlightEntries += entries.length
      const batch = this.pack(entries)
      // Markers alone (sessions ending) need no thread: commit them in their turn, never via a pool that may be closing.
      if (batch.ends.length === 0) {
        Promise.resolve().then(() => this.complete(slot, { commands: [], checksum: 0, busyMs: 0 }))
        continue
      }
      this.executor.run(batch).then(
        (result) => this.complete(slot, result),
        (error: unknown) => {
          // A crashed worker must not lose accepted messages: redo the batch inline.
          this.options.onExecutorError(error)
          this.complete(slot, processBatch(this.pack(entries)))
        }
      )
    }
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
        this.options.commit(entry, entry.frame === null ? null : done.result!.commands[i++])
      }
    }
    if (this.paused && this.depth <= this.options.lowWater) {
      this.paused = false
      this.options.onPressure(false)
    }
    if (this.depth === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve())
    if (this.queue.length > 0) this.scheduleDispatch()
  }
}
