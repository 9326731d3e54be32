import { pathToFileURL } from 'node:url'
import { Piscina } from 'piscina'
import { processBatch } from './process-batch'
import type { LogicBatch, LogicResult } from './types'

/** Where the logic step runs. The pipeline around it, and so every ordering guarantee, is the same for both. */
export interface LogicExecutor {
  readonly threads: number
  /** Runs a batch, on a thread if there are any; aborting `signal` ends the thread running it (it is replaced). */
  run(batch: LogicBatch, signal?: AbortSignal): Promise<LogicResult>
  /** The same logic on the I/O thread: where a batch that a thread could not finish is redone. */
  runInline(batch: LogicBatch): Promise<LogicResult>
  close(): Promise<void>
}

/** `--workers 0`: the same pure function on the I/O thread, for comparison. */
export function createInlineExecutor(): LogicExecutor {
  const runInline = async (batch: LogicBatch) => processBatch(batch)
  return { threads: 0, run: runInline, runInline, close: async () => {} }
}

type BatchFunction = (batch: LogicBatch) => LogicResult | Promise<LogicResult>

/**
 * Piscina loads a worker file with require() first, and Node 20.19+ then loads our ES module through
 * require(esm), which once aborted a whole test process in CI ("Assertion failed: facade->InstantiateModule",
 * node::loader::ModuleWrap::CreateRequiredModuleFacade) instead of throwing. Without require(esm) in the
 * threads, piscina's require() throws and it falls back to import(), the ESM loader proper. Only where this
 * Node still takes the flag.
 */
const WORKER_EXEC_ARGV = process.allowedNodeEnvironmentFlags.has('--experimental-require-module') ? ['--no-experimental-require-module'] : []

/** `onError` hears of a worker that died between tasks (a task's own failure rejects its run instead). */
export function createPoolExecutor(threads: number, workerFile: string, onError: (error: unknown) => void): LogicExecutor {
  const pool = new Piscina<LogicBatch, LogicResult>({
    filename: workerFile,
    minThreads: threads,
    maxThreads: threads,
    execArgv: WORKER_EXEC_ARGV,
    // The pipeline bounds the tasks in flight itself; piscina's queue only ever holds a few.
    idleTimeout: Infinity
  })
  pool.on('error', onError)
  // The redo runs the very file the threads run, so what fails there fails here too, and is isolated here.
  let inline: Promise<BatchFunction> | null = null
  const loadInline = () => (inline ??= import(pathToFileURL(workerFile).href).then((module) => module.default as BatchFunction))
  return {
    threads,
    run: (batch, signal) =>
      pool.run(batch, {
        transferList: [batch.bytes.buffer, batch.ends.buffer, batch.parse.buffer] as ArrayBuffer[],
        signal
      }),
    runInline: async (batch) => (await loadInline())(batch),
    close: () => pool.destroy()
  }
}
