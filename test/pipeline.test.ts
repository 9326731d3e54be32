import { afterEach, describe, expect, it } from 'vitest'
import { createPoolExecutor, type LogicExecutor } from '../src/main/core/logic/executor'
import { FRAME_FAILED, LogicPipeline, type PipelineEntry } from '../src/main/core/logic/pipeline'
import { processBatch } from '../src/main/core/logic/process-batch'
import type { LogicBatch } from '../src/main/core/logic/types'
import { spin } from '../src/main/core/logic/work'
import type { Command } from '../src/main/core/protocol/commands'
import { WORKER_FILE } from './helpers'

interface Entry extends PipelineEntry {
  n: number
}

const chat = (n: number): Entry => ({ n, frame: Buffer.from(`CHAT ${n}`), parse: true })

/**
 * The real logic step, with results held back and released last first: every round of batches the
 * pipeline starts together finishes in exactly the reverse order, so committing in completion order
 * could not go unnoticed. `finished` lists the batches (by start order) as they finished. With
 * `msPerFrame`, its batches report that much work per frame (as a thread doing real work would).
 */
function reversingExecutor(msPerFrame?: number): LogicExecutor & { batches: number[]; finished: number[] } {
  const batches: number[] = []
  const finished: number[] = []
  let held: (() => void)[] = []
  return {
    threads: 4,
    batches,
    finished,
    run: (batch: LogicBatch) => {
      const index = batches.push(batch.ends.length) - 1
      const result = processBatch(batch)
      if (msPerFrame !== undefined) result.busyMs = msPerFrame * batch.ends.length
      // The pipeline starts a round in one synchronous pass: release it once that pass is over.
      if (held.length === 0) queueMicrotask(() => held.splice(0).reverse().forEach((release) => release()))
      return new Promise((resolve) =>
        held.push(() => {
          finished.push(index)
          resolve(result)
        })
      )
    },
    runInline: async (batch: LogicBatch) => processBatch(batch),
    close: async () => {}
  }
}

function pipelineWith(executor: LogicExecutor, overrides: Partial<ConstructorParameters<typeof LogicPipeline<Entry>>[1]> = {}) {
  const committed: { n: number; command: Command | null }[] = []
  const pressure: boolean[] = []
  const pipeline = new LogicPipeline<Entry>(executor, {
    commit: (entry, command) => committed.push({ n: entry.n, command }),
    onPressure: (paused) => pressure.push(paused),
    onBatchRedone: () => {},
    onFrameFailed: () => {},
    onCommitFailed: () => {},
    batchDeadlineMs: 0,
    maxBatch: 10,
    maxInFlight: 4,
    highWater: 1000,
    lowWater: 500,
    spinIterations: 0,
    ...overrides
  })
  return { pipeline, committed, pressure }
}

describe('LogicPipeline', () => {
  it('commits in push order although batches finish out of order', async () => {
    const executor = reversingExecutor()
    const { pipeline, committed } = pipelineWith(executor)
    for (let n = 0; n < 200; n++) pipeline.push(chat(n))
    await pipeline.whenIdle()
    expect(executor.finished.slice(0, 4)).toEqual([3, 2, 1, 0])
    expect(committed.map((c) => c.n)).toEqual([...Array(200).keys()])
    expect(committed[7].command).toEqual({ verb: 'CHAT', text: '7' })
  })

  it('runs one task per batch, not one per message, and no batch over maxBatch', async () => {
    const executor = reversingExecutor()
    const { pipeline } = pipelineWith(executor)
    for (let n = 0; n < 95; n++) pipeline.push(chat(n))
    await pipeline.whenIdle()
    expect(executor.batches.slice(0, 4)).toEqual([10, 10, 10, 10])
    expect(executor.batches.length).toBeLessThan(20)
    expect(Math.max(...executor.batches)).toBe(10)
    expect(executor.batches.reduce((sum, size) => sum + size, 0)).toBe(95)
  })

  it('spreads real work over the threads, and sends cheap lines one batch at a time', async () => {
    /** Pushes one frame, then (once the pipeline has seen what a frame costs) a hundred at once. */
    const warmThenHundred = async (executor: LogicExecutor) => {
      const { pipeline } = pipelineWith(executor, { maxBatch: 512 })
      pipeline.push(chat(0))
      await pipeline.whenIdle()
      for (let n = 1; n <= 100; n++) pipeline.push(chat(n))
      await pipeline.whenIdle()
    }
    // A millisecond a frame: spread over both threads.
    const costly = { ...reversingExecutor(1), threads: 2 }
    await warmThenHundred(costly)
    expect(costly.batches).toEqual([1, 50, 50])
    // Half a microsecond a frame (parsing a line): a hundred take less than handing a batch to a thread and back.
    const cheap = { ...reversingExecutor(0.0005), threads: 2 }
    await warmThenHundred(cheap)
    expect(cheap.batches).toEqual([1, 100])
  })

  it('holds what arrives behind a cheap batch in flight, and sends it as the next batch', async () => {
    const batches: number[] = []
    const held: (() => void)[] = []
    const executor: LogicExecutor = {
      threads: 2,
      run: (batch: LogicBatch) => {
        batches.push(batch.ends.length)
        // A microsecond a frame, whatever this machine takes: cheap.
        const result = { ...processBatch(batch), busyMs: 0.001 * batch.ends.length }
        return new Promise((resolve) => held.push(() => resolve(result)))
      },
      runInline: async (batch: LogicBatch) => processBatch(batch),
      close: async () => {}
    }
    const nextTurn = () => new Promise((resolve) => setImmediate(resolve))
    const { pipeline, committed } = pipelineWith(executor, { maxBatch: 512 })
    pipeline.push(chat(0))
    await nextTurn()
    held.shift()!()
    await pipeline.whenIdle()
    pipeline.push(chat(1))
    await nextTurn()
    for (let n = 2; n <= 5; n++) pipeline.push(chat(n))
    await nextTurn()
    // The second batch is still out: the four behind it wait.
    expect(batches).toEqual([1, 1])
    held.shift()!()
    // Its result comes a microtask later, and the next dispatch the turn after.
    await nextTurn()
    await nextTurn()
    expect(batches).toEqual([1, 1, 4])
    held.shift()!()
    await pipeline.whenIdle()
    expect(committed.map((c) => c.n)).toEqual([0, 1, 2, 3, 4, 5])
  })

  it('keeps markers in their place and passes opaque frames through unparsed', async () => {
    const { pipeline, committed } = pipelineWith(reversingExecutor())
    pipeline.push(chat(0))
    pipeline.push({ n: 1, frame: null, parse: false })
    pipeline.push({ n: 2, frame: Buffer.from('CHAT raw'), parse: false })
    pipeline.push(chat(3))
    await pipeline.whenIdle()
    expect(committed).toEqual([
      { n: 0, command: { verb: 'CHAT', text: '0' } },
      { n: 1, command: null },
      { n: 2, command: null },
      { n: 3, command: { verb: 'CHAT', text: '3' } }
    ])
  })

  it('asks to pause reading past the high-water mark and to resume under the low one', async () => {
    const { pipeline, pressure } = pipelineWith(reversingExecutor(), { highWater: 50, lowWater: 10 })
    for (let n = 0; n < 60; n++) pipeline.push(chat(n))
    expect(pressure).toEqual([true])
    expect(pipeline.depth).toBe(60)
    await pipeline.whenIdle()
    expect(pressure).toEqual([true, false])
  })

  it('commits a batch of markers alone without a thread', async () => {
    const errors: unknown[] = []
    const failing: LogicExecutor = { threads: 1, run: () => Promise.reject(new Error('pool closed')), runInline: async (b) => processBatch(b), close: async () => {} }
    const { pipeline, committed } = pipelineWith(failing, { onBatchRedone: (e) => errors.push(e) })
    pipeline.push({ n: 0, frame: null, parse: false })
    pipeline.push({ n: 1, frame: null, parse: false })
    await pipeline.whenIdle()
    expect(committed).toEqual([
      { n: 0, command: null },
      { n: 1, command: null }
    ])
    expect(errors).toEqual([])
  })

  it('redoes a failed batch inline rather than lose it', async () => {
    const errors: unknown[] = []
    const failing: LogicExecutor = { threads: 1, run: () => Promise.reject(new Error('worker died')), runInline: async (b) => processBatch(b), close: async () => {} }
    const { pipeline, committed } = pipelineWith(failing, { onBatchRedone: (e) => errors.push(e) })
    for (let n = 0; n < 15; n++) pipeline.push(chat(n))
    await pipeline.whenIdle()
    expect(committed.map((c) => c.n)).toEqual([...Array(15).keys()])
    expect(errors).toHaveLength(2)
  })
})

describe('LogicPipeline when the logic step fails', () => {
  /** Fails every batch on its "thread"; inline, fails only batches holding a frame that says poison. */
  const poisoned: LogicExecutor = {
    threads: 1,
    run: () => Promise.reject(new Error('worker died')),
    runInline: async (batch) => {
      if (Buffer.from(batch.bytes).includes('poison')) throw new Error('poisoned')
      return processBatch(batch)
    },
    close: async () => {}
  }

  it('isolates a frame that fails inline too: only it is committed as FRAME_FAILED, in its place', async () => {
    const failed: number[] = []
    const { pipeline, committed } = pipelineWith(poisoned, { onFrameFailed: (entry) => failed.push(entry.n) })
    for (let n = 0; n < 6; n++) pipeline.push(n === 3 ? { n, frame: Buffer.from('CHAT poison'), parse: true } : chat(n))
    await pipeline.whenIdle()
    expect(committed.map((c) => c.n)).toEqual([0, 1, 2, 3, 4, 5])
    expect(committed[3].command).toBe(FRAME_FAILED)
    expect(committed.filter((c) => c.command === FRAME_FAILED)).toHaveLength(1)
    expect(committed[4].command).toEqual({ verb: 'CHAT', text: '4' })
    expect(failed).toEqual([3])
  })

  it('gives up on a batch past its deadline, aborting its thread, and redoes it inline', async () => {
    const aborted: boolean[] = []
    const hanging: LogicExecutor = {
      threads: 1,
      run: (_batch, signal) =>
        new Promise((_resolve, reject) =>
          signal!.addEventListener('abort', () => {
            aborted.push(true)
            reject(new Error('aborted'))
          })
        ),
      runInline: async (batch) => processBatch(batch),
      close: async () => {}
    }
    const timeouts: boolean[] = []
    const { pipeline, committed } = pipelineWith(hanging, { batchDeadlineMs: 20, onBatchRedone: (_e, timedOut) => timeouts.push(timedOut) })
    for (let n = 0; n < 5; n++) pipeline.push(chat(n))
    await pipeline.whenIdle()
    expect(committed.map((c) => c.n)).toEqual([0, 1, 2, 3, 4])
    expect(aborted).toEqual([true])
    expect(timeouts).toEqual([true])
    expect(pipeline.batchTimeouts).toBe(1)
    expect(pipeline.batchesRedone).toBe(1)
  })

  it('runs the deadline of a batch from when it has a thread, not from when it was handed over', async () => {
    // One thread, two batches in flight: the second waits 30 ms for the first, then runs 30 ms. Each is
    // well within a 50 ms deadline; counted from the hand-over, the second would not be.
    let previous = Promise.resolve()
    const aborted: number[] = []
    const serial: LogicExecutor = {
      threads: 1,
      run: (batch, signal) => {
        const done = previous.then(() => new Promise<void>((resolve) => setTimeout(resolve, 30)))
        previous = done
        return new Promise((resolve, reject) => {
          signal!.addEventListener('abort', () => (aborted.push(batch.ends.length), reject(new Error('aborted'))))
          done.then(() => resolve(processBatch(batch)))
        })
      },
      runInline: async (batch) => processBatch(batch),
      close: async () => {}
    }
    const { pipeline, committed } = pipelineWith(serial, { batchDeadlineMs: 50, maxBatch: 5, maxInFlight: 2 })
    for (let n = 0; n < 10; n++) pipeline.push(chat(n))
    await pipeline.whenIdle()
    expect(committed.map((c) => c.n)).toEqual([...Array(10).keys()])
    expect(aborted).toEqual([])
    expect(pipeline.batchTimeouts).toBe(0)
  })

  it('carries on past a commit that throws, and says so', async () => {
    const failures: number[] = []
    const seen: number[] = []
    const pipeline = new LogicPipeline<Entry>(reversingExecutor(), {
      commit: (entry) => {
        if (entry.n === 2) throw new Error('a bug in the chat logic')
        seen.push(entry.n)
      },
      onPressure: () => {},
      onBatchRedone: () => {},
      onFrameFailed: () => {},
      onCommitFailed: (entry) => failures.push(entry.n),
      maxBatch: 2,
      maxInFlight: 4,
      highWater: 1000,
      lowWater: 500,
      spinIterations: 0,
      batchDeadlineMs: 0
    })
    for (let n = 0; n < 6; n++) pipeline.push(chat(n))
    await pipeline.whenIdle()
    expect(seen).toEqual([0, 1, 3, 4, 5])
    expect(failures).toEqual([2])
    expect(pipeline.depth).toBe(0)
  })

  it('once closed, does not redo what a closing pool gives back', async () => {
    const redone: unknown[] = []
    const closing: LogicExecutor = { threads: 1, run: () => Promise.reject(new Error('Terminating worker thread')), runInline: async (b) => processBatch(b), close: async () => {} }
    const { pipeline, committed } = pipelineWith(closing, { onBatchRedone: (e) => redone.push(e) })
    pipeline.close()
    pipeline.push(chat(0))
    await pipeline.whenIdle()
    expect(redone).toEqual([])
    expect(committed).toEqual([{ n: 0, command: FRAME_FAILED }])
  })

  it('remembers the most frames it held at once, markers not counted', async () => {
    const { pipeline } = pipelineWith(reversingExecutor())
    for (let n = 0; n < 30; n++) pipeline.push(chat(n))
    pipeline.push({ n: 30, frame: null, parse: false })
    await pipeline.whenIdle()
    expect(pipeline.takePeak()).toBe(30)
    expect(pipeline.takePeak()).toBe(0)
  })
})

describe('the piscina worker (out/main/logic-worker.js)', () => {
  const poolErrors: unknown[] = []
  afterEach(() => {
    expect(poolErrors).toEqual([])
  })

  it('gives the same results as the inline logic step, in order, across threads', async () => {
    const pool = createPoolExecutor(2, WORKER_FILE, (error) => poolErrors.push(error))
    try {
      const { pipeline, committed } = pipelineWith(pool, { maxBatch: 7 })
      const lines = ['NICK amy', 'JOIN r', 'CHAT hi', 'WHO', 'BOGUS', 'CHAT']
      for (let n = 0; n < 300; n++) pipeline.push({ n, frame: Buffer.from(lines[n % lines.length]), parse: true })
      await pipeline.whenIdle()
      expect(committed.map((c) => c.n)).toEqual([...Array(300).keys()])
      const inline = processBatch({
        bytes: Buffer.from(lines.join('')),
        ends: Uint32Array.from(lines.map((_, i) => lines.slice(0, i + 1).join('').length)),
        parse: new Uint8Array(lines.length).fill(1),
        spinIterations: 0
      })
      expect(committed.slice(0, lines.length).map((c) => c.command)).toEqual(inline.commands)
    } finally {
      await pool.close()
    }
  })

  it('does the simulated work on its threads and reports the time spent', async () => {
    const pool = createPoolExecutor(1, WORKER_FILE, (error) => poolErrors.push(error))
    try {
      const result = await pool.run({
        bytes: new Uint8Array(0),
        ends: new Uint32Array(4),
        parse: new Uint8Array(4),
        spinIterations: 1_000_000
      })
      expect(result.commands).toEqual([null, null, null, null])
      expect(result.busyMs).toBeGreaterThan(0)
      expect(result.checksum).toBe((4 * spin(1_000_000)) | 0)
    } finally {
      await pool.close()
    }
  })
})
