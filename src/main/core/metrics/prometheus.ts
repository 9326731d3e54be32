import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { ServerCounters } from '../server/server'
import { LagProbe } from './lag-probe'

/** How often the event loop's lateness is sampled for the lag histogram (ms). */
const LAG_SAMPLE_MS = 100

/**
 * The server's figures in the Prometheus text format (GET /metrics), through prom-client: every name
 * `switchboard_…`, in base units, counters `_total`. Each scrape reads the running server's totals once
 * (`counters`: null while it is stopped); nothing here counts on its own but the event loop's lag, sampled
 * every LAG_SAMPLE_MS while this exists.
 */
export class PrometheusMetrics {
  readonly registry = new Registry()
  private readonly lagProbe: LagProbe

  /**
   * What this scrape read of the server (one read per scrape, shared by every metric). prom-client runs every
   * collect() synchronously at the start of metrics(), so two scrapes at once cannot mix their reads.
   */
  private scraped: ServerCounters | null = null

  constructor(private readonly counters: () => ServerCounters | null) {
    const registers = [this.registry]
    /** Samples of one metric: its labels and value, as this scrape read them (none: the metric says nothing). */
    type Samples = () => [labels: Record<string, string>, value: number][]
    // Every figure is the server's own, set at each scrape: its totals restart at 0 with the server, which
    // Prometheus takes as a counter reset.
    const gauge = (name: string, help: string, labelNames: string[], samples: Samples) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset()
          for (const [labels, value] of samples()) this.set(labels, value)
        }
      })
    const counter = (name: string, help: string, labelNames: string[], samples: Samples) =>
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset()
          for (const [labels, value] of samples()) this.inc(labels, value)
        }
      })
    const server = (value: (c: ServerCounters) => number): Samples => () => (this.scraped ? [[{}, value(this.scraped)]] : [])
    const node = (value: (c: NonNullable<ServerCounters['cluster']>) => number): Samples => () => {
      const cluster = this.scraped?.cluster
      return cluster ? [[{ node: cluster.nodeId }, value(cluster)]] : []
    }

    gauge('switchboard_server_up', 'Whether the chat server is running (1) or stopped (0).', [], () => [[{}, this.scraped ? 1 : 0]])
    gauge('switchboard_sessions', 'Sessions open now, by listener.', ['listener'], () =>
      Object.entries(this.scraped?.sessionsByListener ?? {}).map(([listener, sessions]) => [{ listener }, sessions])
    )
    counter('switchboard_messages_received_total', 'Messages received from clients.', [], server((c) => c.msgsIn))
    counter('switchboard_deliveries_total', 'Messages queued for clients (one per receiver).', [], server((c) => c.msgsOut))
    counter('switchboard_received_bytes_total', 'Bytes received from clients.', [], server((c) => c.bytesIn))
    counter('switchboard_sent_bytes_total', 'Bytes sent to clients.', [], server((c) => c.bytesOut))
    counter('switchboard_rate_limited_messages_total', 'Messages dropped for going over a session’s rate limit.', [], server((c) => c.rateLimited))
    counter('switchboard_logic_batches_redone_total', 'Logic batches a worker failed or hung on, redone on the I/O thread.', [], server((c) => c.batchesRedone))
    counter('switchboard_sessions_ended_total', 'Sessions the server ended for a limit, by cause: slow-consumer, idle-timeout, partial-timeout, rate-limited.', ['cause'], () =>
      Object.entries(this.scraped?.limitEnds ?? {}).map(([cause, ended]) => [{ cause }, ended])
    )
    gauge('switchboard_logic_queue_depth', 'Frames accepted by the logic stage and not yet committed.', [], server((c) => c.logicQueueDepth))
    gauge('switchboard_output_pending_bytes', 'Output queued for all sessions and not yet taken by the kernel, as the output cap counts it.', [], server((c) => c.outputPendingBytes))
    gauge('switchboard_sessions_held', 'Sessions whose reading waits for their turn in the logic queue.', [], server((c) => c.sessionsHeld))

    // A cluster node's view of Redis, labelled with the node's id: nothing at all on a server on its own.
    gauge('switchboard_cluster_redis_up', 'Whether Redis answers this node (1) or not (0).', ['node'], node((c) => (c.redisReachable ? 1 : 0)))
    gauge('switchboard_cluster_fenced', 'Whether this node stopped serving for want of its lease (1) or serves (0).', ['node'], node((c) => (c.fenced === null ? 0 : 1)))
    gauge('switchboard_cluster_lease_age_seconds', 'How long ago Redis last accepted a renewal of this node’s lease.', ['node'], node((c) => c.leaseAgeMs / 1000))
    gauge('switchboard_cluster_stream_lag_seconds', 'How far behind its rooms’ streams this node delivered, at its last delivery, at most over its rooms.', ['node'],
      node((c) => c.rooms.reduce((most, room) => Math.max(most, room.lagMs ?? 0), 0) / 1000)
    )
    gauge('switchboard_cluster_backlog_bytes', 'What this node holds waiting on Redis, estimated as memory.', ['node'], node((c) => c.backlogBytes))
    counter('switchboard_cluster_backlog_refused_total', 'Lines refused for the node’s backlog bound.', ['node'], node((c) => c.backlogRefused))
    counter('switchboard_cluster_entries_lost_total', 'Stream entries trimmed before this node read them.', ['node'], node((c) => c.entriesLost))
    counter('switchboard_cluster_duplicates_dropped_total', 'Stream entries read twice and dropped.', ['node'], node((c) => c.duplicatesDropped))

    const lag = new Histogram({
      name: 'switchboard_event_loop_lag_seconds',
      help: `How late the event loop ran a timer due every ${LAG_SAMPLE_MS} ms (ticks a stall swallowed counted too).`,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers
    })
    this.lagProbe = new LagProbe(LAG_SAMPLE_MS, (lateMs) => lag.observe(lateMs / 1000))
  }

  get contentType(): string {
    return this.registry.contentType
  }

  text(): Promise<string> {
    this.scraped = this.counters()
    return this.registry.metrics()
  }

  close(): void {
    this.lagProbe.close()
  }
}
