// What the server tells about itself: plain data shared by every process (the core produces it, the
// renderer draws it). No platform imports here.

export type CodecName = 'line' | 'asio'

/** Plain data, safe to send over IPC or a WebSocket as it is. */
export interface SessionMetrics {
  id: number
  remote: string
  listener: string
  codec: CodecName
  /** Line sessions only; asio sessions have neither. */
  nick: string | null
  room: string | null
  connectedAt: number
  bytesIn: number
  bytesOut: number
  msgsIn: number
  msgsOut: number
  /** Output accepted for this session and not yet taken by the kernel. */
  queuedBytes: number
  /** Messages dropped for going over the session's rate limit. */
  rateLimited: number
}

export interface TotalsMetrics {
  sessions: number
  msgsIn: number
  msgsOut: number
  bytesIn: number
  bytesOut: number
  /** Messages dropped for going over a session's rate limit, all sessions ever. */
  rateLimited: number
  msgsInPerSec: number
  msgsOutPerSec: number
  bytesInPerSec: number
  bytesOutPerSec: number
  /** Frames accepted by the logic stage and not yet committed. */
  logicQueueDepth: number
  /** The most frames the logic queue held at once in the last interval: never more than its mark. */
  logicQueuePeak: number
  batchesInFlight: number
  /** Every session's reading is paused because the logic queue reached its high-water mark. */
  readingPaused: boolean
  /** Sessions whose reading waits for their turn (their share of the queue, or the whole queue, is full). */
  sessionsHeld: number
  poolThreads: number
  /** Share of the logic threads' time spent on batches in the last interval (with 0 threads: of the I/O thread). */
  poolUtilization: number
  /** Time from a frame's arrival to its commit, over the last interval; null when nothing was committed. */
  logicLatencyP50Ms: number | null
  logicLatencyP99Ms: number | null
  /** How late the event loop ran its timers, p99 over the last interval. */
  eventLoopLagP99Ms: number
  /** Batches a worker failed or hung on, redone inline; and of those, the ones past the batch deadline. */
  batchesRedone: number
  batchTimeouts: number
}

export interface MetricsSnapshot {
  at: number
  uptimeMs: number
  totals: TotalsMetrics
  sessions: SessionMetrics[]
}

/** `limit`: a session closed for a limit it ran into (idle, incomplete message, rate). */
export type LogKind = 'listen' | 'connect' | 'disconnect' | 'refuse' | 'error' | 'kick' | 'pressure' | 'limit' | 'shutdown'

export interface LogEvent {
  at: number
  kind: LogKind
  sessionId?: number
  text: string
}
