import type { Command } from '../protocol/commands'

/**
 * One task for the logic stage: the frames of many messages packed into one buffer, so a batch
 * crosses to a worker thread as one transferable allocation rather than one clone per message.
 * Frame i is `bytes[ends[i-1] .. ends[i])`.
 */
export interface LogicBatch {
  bytes: Uint8Array
  ends: Uint32Array
  /** 1: a line-protocol command to parse; 0: an opaque asio body to pass through. */
  parse: Uint8Array
  /** Simulated CPU-bound work per message (`--work-us`), in calibrated loop iterations. */
  spinIterations: number
}

/** One result per frame, in the batch's order: the parsed command, or null for a pass-through body. */
export interface LogicResult {
  commands: (Command | null)[]
  /** Keeps the simulated work observable so no optimiser can drop it. */
  checksum: number
  /** Time the executing thread spent on this batch: the basis of the utilization figure. */
  busyMs: number
}
