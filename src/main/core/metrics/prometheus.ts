import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { ServerCounters } from '../server/server'

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
  private readonly lagTimer: NodeJS.Timeout

  /**
   * What this scrape read of the server (one read per scrape, shared by every metric). prom-client runs every
   * collect() synchronously at the start of metrics(), so two scrapes at once cannot mix their reads.
   */
  private scraped: ServerCounters | null = null

  constructor(private readonly counters: () => ServerCounters | null) {
    const registers = [this.registry]
    const read = () => this.scraped
    new Gauge({
      name: 'switchboard_server_up',
      help: 'Whether the chat server is running (1) or stopped (0).',
      registers,
      collect() {
        this.set(read() ? 1 : 0)
      }
    })
    new Gauge({
      name: 'switchboard_sessions',
      help: 'Sessions open now, by listener.',
      labelNames: ['listener'],
      registers,
      collect() {
        this.reset()
        for (const [listener, sessions] of Object.entries(read()?.sessionsByListener ?? {})) this.set({ listener }, sessions)
      }
    })
    const total = (name: string, help: string, value: (c: ServerCounters) => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          // Totals the server keeps: set from them (they restart at 0 with the server, which Prometheus takes as a reset).
          this.reset()
          const current = read()
          if (current) this.inc(value(current))
        }
      })
    total('switchboard_messages_received_total', 'Messages received from clients.', (c) => c.msgsIn)
    total('switchboard_deliveries_total', 'Messages queued for clients (one per receiver).', (c) => c.msgsOut)
    total('switchboard_received_bytes_total', 'Bytes received from clients.', (c) => c.bytesIn)
    total('switchboard_sent_bytes_total', 'Bytes sent to clients.', (c) => c.bytesOut)
    total('switchboard_rate_limited_messages_total', 'Messages dropped for going over a session’s rate limit.', (c) => c.rateLimited)
    total('switchboard_logic_batches_redone_total', 'Logic batches a worker failed or hung on, redone on the I/O thread.', (c) => c.batchesRedone)
    new Counter({
      name: 'switchboard_sessions_ended_total',
      help: 'Sessions the server ended for a limit, by cause: slow-consumer, idle-timeout, partial-timeout, rate-limited.',
      labelNames: ['cause'],
      registers,
      collect() {
        this.reset()
        for (const [cause, ended] of Object.entries(read()?.limitEnds ?? {})) this.inc({ cause }, ended)
      }
    })
    const level = (name: string, help: string, value: (c: ServerCounters) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const current = read()
          this.set(current ? value(current) : 0)
        }
      })
    level('switchboard_logic_queue_depth', 'Frames accepted by the logic stage and not yet committed.', (c) => c.logicQueueDepth)
    level('switchboard_sessions_held', 'Sessions whose reading waits for their turn in the logic queue.', (c) => c.sessionsHeld)
    this.clusterMetrics(registers, read)

    const lag = new Histogram({
      name: 'switchboard_event_loop_lag_seconds',
      help: `How late the event loop ran a timer, sampled every ${LAG_SAMPLE_MS} ms.`,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers
    })
    let due = performance.now() + LAG_SAMPLE_MS
    this.lagTimer = setInterval(() => {
      const now = performance.now()
      lag.observe(Math.max(0, now - due) / 1000)
      due = now + LAG_SAMPLE_MS
    }, LAG_SAMPLE_MS).unref()
  }

  /** A cluster node's view of Redis, labelled with the node's id: nothing at all on a server on its own. */
  private clusterMetrics(registers: Registry[], read: () => ServerCounters | null): void {
    const labelNames = ['node']
    const gauge = (name: string, help: string, value: (cluster: NonNullable<ServerCounters['cluster']>) => number) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset()
          const cluster = read()?.cluster
          if (cluster) this.set({ node: cluster.nodeId }, value(cluster))
        }
      })
    const total = (name: string, help: string, value: (cluster: NonNullable<ServerCounters['cluster']>) => number) =>
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset()
          const cluster = read()?.cluster
          if (cluster) this.inc({ node: cluster.nodeId }, value(cluster))
        }
      })
    gauge('switchboard_cluster_redis_up', 'Whether Redis answers this node (1) or not (0).', (c) => (c.redisReachable ? 1 : 0))
    gauge('switchboard_cluster_fenced', 'Whether this node stopped serving for want of its lease (1) or serves (0).', (c) => (c.fenced === null ? 0 : 1))
    gauge('switchboard_cluster_lease_age_seconds', 'How long ago Redis last accepted a renewal of this node’s lease.', (c) => c.leaseAgeMs / 1000)
    gauge('switchboard_cluster_stream_lag_seconds', 'How far behind its rooms’ streams this node delivered, at its last delivery, at most over its rooms.', (c) =>
      c.rooms.reduce((most, room) => Math.max(most, room.lagMs ?? 0), 0) / 1000
    )
    gauge('switchboard_cluster_backlog_bytes', 'What this node holds waiting on Redis, estimated as memory.', (c) => c.backlogBytes)
    total('switchboard_cluster_backlog_refused_total', 'Lines refused for the node’s backlog bound.', (c) => c.backlogRefused)
    total('switchboard_cluster_entries_lost_total', 'Stream entries trimmed before this node read them.', (c) => c.entriesLost)
    total('switchboard_cluster_duplicates_dropped_total', 'Stream entries read twice and dropped.', (c) => c.duplicatesDropped)
  }

  get contentType(): string {
    return this.registry.contentType
  }

  text(): Promise<string> {
    this.scraped = this.counters()
    return this.registry.metrics()
  }

  close(): void {
    clearInterval(this.lagTimer)
  }
}
