import { parseCommand } from '../protocol/commands'
import type { LogicBatch, LogicResult } from './types'
import { spin } from './work'

/** The logic step, a pure function of plain data: run inline (`--workers 0`) or in a worker thread. */
export function processBatch(batch: LogicBatch): LogicResult {
  const startedAt = performance.now()
  const { bytes, ends, parse, spinIterations } = batch
  const commands: LogicResult['commands'] = new Array(ends.length)
  let checksum = 0
  let start = 0
  for (let i = 0; i < ends.length; i++) {
    if (spinIterations > 0) checksum = (checksum + spin(spinIterations)) | 0
    commands[i] = parse[i] === 1 ? parseCommand(bytes.subarray(start, ends[i])) : null
    start = ends[i]
  }
  return { commands, checksum, busyMs: performance.now() - startedAt }
}
