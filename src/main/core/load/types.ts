import type { CodecName } from '../codec'

/** One closed-loop run: how many clients, how much each sends, and how far each may run ahead. */
export interface LoadOptions {
  host: string
  port: number
  codec: CodecName
  clients: number
  /** Messages each client sends. */
  messages: number
  /** Body bytes of each message (the CHAT text, or the asio body). */
  size: number
  /** Most messages of its own a client may have sent and not yet seen come back. */
  window: number
  /** Gives up on a run (connect + barrier, then again for the measured phase) after this long. */
  timeoutMs: number
}

export interface LatencyReport {
  /** Own echoes measured (one per message that came back to its sender). */
  count: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
  mean: number
}

export interface LoadReport {
  options: LoadOptions
  /** Every client got exactly clients * messages deliveries before the timeout. */
  complete: boolean
  /** clients * clients * messages: every message reaches every client, its sender included. */
  expected: number
  deliveries: number
  /** expected - deliveries, when short; 0 when complete. */
  shortfall: number
  /** Clients still waiting for deliveries when the run ended. */
  clientsShort: number
  /** First send to last delivery. */
  durationMs: number
  deliveriesPerSec: number
  /** Messages that came back to their sender, per second: the rate of distinct messages through the server. */
  messagesPerSec: number
  /** Send of a message to its sender seeing it, in milliseconds. */
  latencyMs: LatencyReport
  connectErrors: number
  /** Connections the server closed (or that failed) before the run ended. */
  disconnects: number
  /** Frames whose tag could not be read, and own echoes out of send order. */
  protocolErrors: number
  /**
   * The generator's own CPU time over the measured phase, as a share of its wall time (1 = one core);
   * processMs is all it used since it started (connects and start-up included).
   */
  cpu: { userMs: number; systemMs: number; share: number; processMs: number }
  /** Why the run is incomplete, if it is. */
  note?: string
}
