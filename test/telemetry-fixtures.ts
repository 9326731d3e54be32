// Snapshots, pages and load reports as the host sends them, for tests that feed the store (or a printer)
// without a server behind it.
import { LOAD_DEFAULTS, type LoadReport, type Percentiles, type StormReport } from '../src/shared/load'
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

const NO_SAMPLES: Percentiles = { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 }

/** The report of a run that sent nothing and lost nothing (its clients did not resume), but for what a test sets. */
export function loadReport(runId: number, set: Partial<LoadReport> = {}): LoadReport {
  return {
    runId, config: { ...LOAD_DEFAULTS, targets: [{ host: '127.0.0.1', port: 7000 }] }, startedAt: 0, complete: true, expected: 0, deliveries: 0, shortfall: 0,
    sent: 0, durationMs: 0, deliveriesPerSec: 0, messagesPerSec: 0, bytesInPerSec: 0, bytesOutPerSec: 0, latencyMs: NO_SAMPLES,
    connectMs: NO_SAMPLES, handshakeMs: null, connectErrors: 0, disconnects: 0, errors: {}, protocolErrors: 0, order: { rooms: 0, split: 0 }, targets: [], agentCpu: [],
    storm: null, ...set
  }
}

/** A storm every client came back from with nothing twice, but for what a test sets. */
export function stormReport(set: Partial<StormReport> = {}): StormReport {
  return {
    made: 'server restarted in 130 ms', lost: 2000, resumed: 2000, unresumed: 0, recovered: 12_345, gaps: 0, duplicates: 0, lostInFlight: 3,
    recoverMs: { count: 2000, p50: 210, p90: 900, p99: 1840, p999: 2100, max: 2200, mean: 400 },
    ...set
  }
}
