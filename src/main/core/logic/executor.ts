import { Piscina } from 'piscina'
import { processBatch } from './process-batch'
import type { LogicBatch, LogicResult } from './types'

/** Where the logic step runs. The pipeline around it, and so every ordering guarantee, is the same for both. */
export interface LogicExecutor {
  readonly threads: number
  run(batch: LogicBatch): Promise<LogicResult>
  close(): Promise<void>
}

/** `--workers 0`: the same pure function on the I/O thread, for comparison. */
export function createInlineExecutor(): LogicExecutor {
  return {
    threads: 0,
    run: async (batch) => processBatch(batch),
    close: async () => {}
  }
}

/** `onError` hears of a worker that died between tasks (a task's own failure rejects its run instead). */
export function createPoolExecutor(threads: number, workerFile: string, onError: (error: unknown) => void): LogicExecutor {
  const pool = new Piscina<LogicBatch, LogicResult>({
    filename: workerFile,
    minThreads: threads,
    maxThreads: threads,
    // The pipeline bounds the tasks in flight itself; piscina's queue only ever holds a few.
    idleTimeout: Infinity
  })
  pool.on('error', onError)
  return {
    threads,
    run: (batch) =>
      pool.run(batch, {
        transferList: [batch.bytes.buffer, batch.ends.buffer, batch.parse.buffer] as ArrayBuffer[]
      }),
    close: () => pool.destroy()
  }
}
