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
  /** The user it logged in as, on a server started with users (--users); null before, and on one without. */
  user: string | null
  connectedAt: number
  bytesIn: number
  bytesOut: number
  msgsIn: number
  msgsOut: number
  /** Output accepted for this session and not yet taken by the kernel. */
  queuedBytes: number
  /** Messages dropped for going over the session's rate limit. */
  rateLimited: number
  /** Messages it sent per second, over the last sampling interval. */
  msgsInPerSec: number
  /** Since its last complete message (or since it connected), within a sampling interval. */
  idleMs: number
  /** How long its output has been over the soft output limit, or null while under it. */
  overSoftMs: number | null
}

/** How a viewer's page of sessions is ordered: most output pending, most msgs/s, longest idle, oldest. */
export type SessionSort = 'pending' | 'rate' | 'idle' | 'age'

/** Which page of the server's sessions a viewer looks at: sorted and filtered by the server, never all of them. */
export interface SessionQuery {
  sort: SessionSort
  /** Kept if its nick, user, address or room holds this text (case-insensitive); empty keeps all. */
  filter: string
  offset: number
  /** At most MAX_PAGE_ROWS. */
  limit: number
}

export const MAX_PAGE_ROWS = 100
export const DEFAULT_SESSION_QUERY: SessionQuery = { sort: 'pending', filter: '', offset: 0, limit: MAX_PAGE_ROWS }

export interface SessionPage {
  query: SessionQuery
  at: number
  /** Sessions the filter kept, of all this server holds. */
  matched: number
  total: number
  rows: SessionMetrics[]
}

/** One listener's share of the sessions and traffic. */
export interface ListenerAggregate {
  listener: string
  sessions: number
  msgsInPerSec: number
  /** Output pending for its sessions, all together. */
  queuedBytes: number
}

export interface RoomAggregate {
  room: string
  /** Members on this server. */
  members: number
}

/** A session dropped as a slow consumer: who, and why (which limit, with how much output pending). */
export interface SlowDrop {
  at: number
  id: number
  nick: string | null
  remote: string
  listener: string
  reason: string
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
  /** How late the event loop ran a timer due every 10 ms, p99 and max over the whole last interval (stalls included). */
  eventLoopLagP99Ms: number
  eventLoopLagMaxMs: number
  /** Output pending for all sessions, as the server-wide output cap counts it. */
  queuedBytes: number
  /** Sessions dropped as slow consumers since the server started. */
  slowConsumers: number
  /** Batches a worker failed or hung on, redone inline; and of those, the ones past the batch deadline. */
  batchesRedone: number
  batchTimeouts: number
}

/** A node of the cluster, as its last heartbeat in Redis described it. */
export interface ClusterNode {
  id: string
  /** This process. */
  self: boolean
  sessions: number
  msgsInPerSec: number
  msgsOutPerSec: number
  /** Where it listens, e.g. `line:127.0.0.1:7000`. */
  listeners: string[]
  /** Age of that heartbeat. */
  seenAgoMs: number
}

/** A room this node reads: its local members and how far behind the stream its delivery runs. */
export interface ClusterRoom {
  room: string
  localMembers: number
  /** Delivery time minus the time Redis gave the last delivered entry's ID; null before the first entry. */
  lagMs: number | null
}

/** A session of another node, as that node registered it in Redis (no traffic counters: those stay on its node). */
export interface RemoteSession {
  node: string
  id: number
  nick: string
  room: string | null
  user: string | null
  remote: string
  listener: string
  connectedAt: number
}

export interface ClusterMetrics {
  nodeId: string
  /** The Redis address (`redis://host:port[/db]`: no credentials are accepted in it). */
  redis: string
  /** Whether Redis answers this node now: both connections up, and its lease renewed lately. */
  redisReachable: boolean
  /** Why this node stopped serving (its lease may have lapsed: it closed its sessions, and rejoins once Redis answers); null while it serves. */
  fenced: string | null
  /** How long ago Redis last accepted a renewal of this node's lease (ms); past the lease it fences. */
  leaseAgeMs: number
  nodes: ClusterNode[]
  rooms: ClusterRoom[]
  /** Sessions of the other nodes (a bounded sample per node; the count per node is in `nodes`). */
  remoteSessions: RemoteSession[]
  /** Room-stream entries this node appended, and entries it read and delivered. */
  appended: number
  delivered: number
  /** Entries read twice (a command resent after a Redis reconnect) and dropped, so nobody sees one twice. */
  duplicatesDropped: number
  /** Entries trimmed from a stream before this node read them: its members missed them. */
  entriesLost: number
  /** Dead nodes whose sessions this node took out of their rooms. */
  nodesReaped: number
  /** What this node holds waiting on Redis (bytes, estimated as memory), and the lines refused for its bound. */
  backlogBytes: number
  backlogRefused: number
}

/**
 * What every viewer is sent at 4 Hz: totals and aggregates, a size that does not grow with the sessions.
 * The sessions themselves go page by page (SessionPage), only to the viewers looking at them.
 */
export interface MetricsSnapshot {
  at: number
  uptimeMs: number
  totals: TotalsMetrics
  listeners: ListenerAggregate[]
  /** The rooms with the most members here (at most TOP_ROOMS), of `roomCount`. */
  rooms: RoomAggregate[]
  roomCount: number
  /** The sessions with the most output pending now (a few), nearest to being dropped as slow. */
  slowest: SessionMetrics[]
  /** The last sessions dropped as slow consumers, oldest first (a few). */
  slowDrops: SlowDrop[]
  /** Null unless the server runs as a node of a cluster (`--cluster redis://…`). */
  cluster: ClusterMetrics | null
}

/** One point of the control room's charts; the host keeps the last minutes of them for a window that opens or reloads. */
export type ChartPoint = { at: number } & Pick<TotalsMetrics, 'logicQueueDepth' | 'msgsInPerSec' | 'msgsOutPerSec' | 'poolUtilization' | 'eventLoopLagP99Ms'>

export const chartPoint = ({ at, totals: t }: MetricsSnapshot): ChartPoint => ({
  at,
  logicQueueDepth: t.logicQueueDepth,
  msgsInPerSec: t.msgsInPerSec,
  msgsOutPerSec: t.msgsOutPerSec,
  poolUtilization: t.poolUtilization,
  eventLoopLagP99Ms: t.eventLoopLagP99Ms
})

/**
 * `limit`: a session closed for a limit it ran into (idle, incomplete message, rate);
 * `cluster`: Redis connection changes, nodes found dead, stream entries lost to trimming.
 */
export type LogKind = 'listen' | 'connect' | 'disconnect' | 'refuse' | 'error' | 'kick' | 'pressure' | 'limit' | 'shutdown' | 'cluster'

export interface LogEvent {
  at: number
  kind: LogKind
  sessionId?: number
  text: string
}
