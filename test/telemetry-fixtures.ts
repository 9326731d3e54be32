// Snapshots and pages as the host sends them, for tests that feed the store without a server behind it.
import { DEFAULT_SESSION_QUERY, type MetricsSnapshot, type SessionMetrics, type SessionPage, type TotalsMetrics } from '../src/shared/telemetry'

/** A quiet server's totals: all zero (no latency yet, reading not paused), but for what a test sets. */
export function totals(set: Partial<TotalsMetrics> = {}): TotalsMetrics {
  return {
    sessions: 0,
    msgsIn: 0,
    msgsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    rateLimited: 0,
    msgsInPerSec: 0,
    msgsOutPerSec: 0,
    bytesInPerSec: 0,
    bytesOutPerSec: 0,
    logicQueueDepth: 0,
    logicQueuePeak: 0,
    batchesInFlight: 0,
    readingPaused: false,
    sessionsHeld: 0,
    poolThreads: 0,
    poolUtilization: 0,
    logicLatencyP50Ms: null,
    logicLatencyP99Ms: null,
    eventLoopLagP99Ms: 0,
    eventLoopLagMaxMs: 0,
    queuedBytes: 0,
    slowConsumers: 0,
    batchesRedone: 0,
    batchTimeouts: 0,
    ...set
  }
}

/** A snapshot of a server on its own, with no listeners, rooms or slow sessions unless the test gives them. */
export function snapshot(at: number, set: Partial<Omit<MetricsSnapshot, 'totals'>> & { totals?: Partial<TotalsMetrics> } = {}): MetricsSnapshot {
  const { totals: t, ...rest } = set
  return {
    at,
    uptimeMs: 60_000,
    listeners: [],
    rooms: [],
    roomCount: 0,
    slowest: [],
    slowDrops: [],
    cluster: null,
    ...rest,
    totals: totals(t)
  }
}

/** A page holding every session given (the default query's first page, unfiltered). */
export function sessionPage(rows: SessionMetrics[], set: Partial<SessionPage> = {}): SessionPage {
  return { query: DEFAULT_SESSION_QUERY, at: 0, matched: rows.length, total: rows.length, rows, ...set }
}
