// The one contract between the host (Electron main, or the headless web host) and every renderer.
// Declared once; main implements it, preload and the browser transport expose it, the renderer calls it.
// Naming as in VS Code's IPC: `onSomething` is an event stream, everything else a call returning a Promise.
import type { LoadConfig, LoadProgress, LoadReport } from './load'
import type { ChartPoint, CodecName, LogEvent, MetricsSnapshot, SessionPage, SessionQuery } from './telemetry'

/** One listening socket: the core's listener spec and the control room's row are this one type. */
export interface ListenerConfig {
  codec: CodecName
  port: number
  host: string
  /** TLS on this listener (`tls+line:PORT`), with the certificate the server was started with. */
  tls?: boolean
}

/** A listener as bound: port 0 becomes the real port, and `name` (`codec:port`) is what sessions and metrics use. */
export type BoundListener = ListenerConfig & { name: string }

/** Joins the server to a cluster of nodes sharing rooms through Redis (docs/CLUSTER.md). */
export interface ClusterConfig {
  /** `redis://host:port`, optionally with `/db`. */
  redis: string
  /** Unique among the cluster's nodes: 1-32 of A-Z a-z 0-9 _ -. */
  nodeId: string
}

/** What one session, and the server as a whole, may take: the CLI's limit flags and the control room's limits. */
export interface ServerLimits {
  maxSessions: number
  /** Longest line (line codec) or body (asio) accepted, in bytes. */
  maxLineBytes: number
  /** Output queued for one session before it is dropped as a slow reader at once (the hard limit), in bytes. */
  maxOutputBytes: number
  /** Output a session may hold above this only for softOutputMs (the soft limit; 0 = none), in bytes. */
  softOutputBytes: number
  softOutputMs: number
  /** Output queued for all sessions together; past it the sessions holding the most are dropped, in bytes. */
  maxTotalOutputBytes: number
  /** Rooms with more members than this announce JOINED, LEFT and NICK only to the session concerned. */
  presenceLimit: number
  /** Messages a session may send per second, on average; 0 = no limit. */
  maxRate: number
  /** Messages a session may send at once above its rate. */
  rateBurst: number
  /** A session that sends no complete frame for this long is closed; 0 = never. */
  idleTimeoutMs: number
  /** A session whose frame stays incomplete for this long is closed; 0 = never. */
  partialTimeoutMs: number
  /** Messages a node on its own keeps per room for HISTORY and RESUME (0 = none), and their bytes. */
  historyMessages: number
  historyBytes: number
  /** History of all rooms together; past it the rooms written least lately are forgotten first. */
  maxTotalHistoryBytes: number
}

export interface ServerConfig {
  listeners: ListenerConfig[]
  workers: number
  workUs: number
  /** Null: one process on its own, no Redis needed. */
  cluster: ClusterConfig | null
  limits: ServerLimits
}

export type ServerStatus = 'stopped' | 'starting' | 'running' | 'stopping'

export interface ServerState {
  status: ServerStatus
  /** The configuration last asked for (running, or to start with). */
  config: ServerConfig
  /** Where it listens while running; port 0 in the config becomes the bound port here. */
  bound: BoundListener[]
  startedAt: number | null
  /** Why the last start or stop failed, e.g. `listen EADDRINUSE: address already in use 127.0.0.1:7000`. */
  error: string | null
}

/** A chat client owned by one window; the host holds its TCP connection. */
export interface ClientConfig {
  host: string
  port: number
  codec: CodecName
  /**
   * Over TLS (a `tls+` listener): the control room's own listeners are trusted with whatever certificate they
   * present (it is this server's); any other server's is checked against the system's CAs.
   */
  tls?: boolean
  /**
   * Line codec, a server with users: the window logs in first (AUTH), and again at each reconnection. The
   * password never comes back: ClientState's config has it empty.
   */
  auth?: { user: string; password: string } | null
}

/**
 * 'reconnecting': a line client's connection was lost (not ended on purpose) and it will try again by itself,
 * then resume its room; asio clients, whose protocol has no resume, go to 'closed' instead.
 */
export type ClientStatus = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed'

export interface ClientState {
  status: ClientStatus
  config: ClientConfig | null
  /** Why it is closed (refused, ended by the server, closed by the user), or, reconnecting, why it was lost. */
  reason: string | null
  /** Reconnecting: how long after this state the next attempt is made (ms); null otherwise. */
  retryInMs: number | null
}

export interface ClientFrame {
  at: number
  /** A line (line codec) or a body (asio codec) as received; tagged lines keep their `@id=...` tag. */
  text: string
  /** Said by the window's client itself, not received: e.g. what a reconnection restored. */
  notice?: boolean
}

/** Frames received since the last event; under a flood the oldest of one batch are dropped and counted. */
export interface ClientFrames {
  frames: ClientFrame[]
  dropped: number
}

export type Unsubscribe = () => void

export interface SwitchboardApi {
  getServerState(): Promise<ServerState>
  startServer(config: ServerConfig): Promise<ServerState>
  stopServer(): Promise<ServerState>
  /** Kicks a session of this server, or with `node`, a session of that node of the cluster (through Redis). */
  kickSession(sessionId: number, node?: string): Promise<boolean>
  /** Connects this window's client (closing any it had). Resolves once connected, or closed with a reason. */
  connectClient(config: ClientConfig): Promise<ClientState>
  /** Sends one line (line codec) or one body (asio codec) from this window's client. */
  sendClient(text: string): Promise<void>
  closeClient(): Promise<void>
  /** Opens another window with a client of its own. */
  openClientWindow(): Promise<void>
  /** Starts a traffic-lab run (one at a time) in load-agent processes; resolves with its id once started. */
  startLoad(config: LoadConfig): Promise<{ runId: number }>
  /** Stops sending now; the run drains briefly and still reports. */
  stopLoad(): Promise<void>
  /** Reports of earlier runs, oldest first, for side-by-side comparison. */
  getLoadRuns(): Promise<LoadReport[]>
  /** The config the last run was started with (kept between launches where the host keeps settings); null before any. */
  getLastLoadConfig(): Promise<LoadConfig | null>
  /** The charts' last minutes, oldest first: a window asks as it loads, so a reload keeps its charts. */
  getMetricsHistory(): Promise<ChartPoint[]>
  /** Which page of sessions this window looks at; it is sent that page now, and with every snapshot after. */
  setSessionQuery(query: SessionQuery): Promise<void>

  onServerState(listener: (state: ServerState) => void): Unsubscribe
  /** Totals and aggregates, 4 times a second while the server runs. */
  onMetrics(listener: (snapshot: MetricsSnapshot) => void): Unsubscribe
  /** This window's page of sessions, as setSessionQuery last asked (none before), with every snapshot. */
  onSessions(listener: (page: SessionPage) => void): Unsubscribe
  /** Log events in batches, oldest first. */
  onLog(listener: (events: LogEvent[]) => void): Unsubscribe
  onClientState(listener: (state: ClientState) => void): Unsubscribe
  onClientFrames(listener: (batch: ClientFrames) => void): Unsubscribe
  /** A few times a second while a run goes on. */
  onLoadProgress(listener: (progress: LoadProgress) => void): Unsubscribe
  /** Once per run, when it ends (completed, stopped, or failed). */
  onLoadReport(listener: (report: LoadReport) => void): Unsubscribe
}

export type EventName = Extract<keyof SwitchboardApi, `on${string}`>
export type CallName = Exclude<keyof SwitchboardApi, EventName>
export type CallArgs<C extends CallName> = Parameters<SwitchboardApi[C]>
export type CallResult<C extends CallName> = Awaited<ReturnType<SwitchboardApi[C]>>
export type EventPayload<E extends EventName> = Parameters<Parameters<SwitchboardApi[E]>[0]>[0]

// Records, so that adding a member to SwitchboardApi without listing it here fails to compile.
const calls: Record<CallName, true> = {
  getServerState: true,
  startServer: true,
  stopServer: true,
  kickSession: true,
  connectClient: true,
  sendClient: true,
  closeClient: true,
  openClientWindow: true,
  startLoad: true,
  stopLoad: true,
  getLoadRuns: true,
  getLastLoadConfig: true,
  getMetricsHistory: true,
  setSessionQuery: true
}
const events: Record<EventName, true> = {
  onServerState: true,
  onMetrics: true,
  onSessions: true,
  onLog: true,
  onClientState: true,
  onClientFrames: true,
  onLoadProgress: true,
  onLoadReport: true
}
export const CALL_NAMES = Object.keys(calls) as CallName[]
export const EVENT_NAMES = Object.keys(events) as EventName[]

/** The Electron IPC channel of a call or event (one per member, so ipcMain.handle can route by name). */
export const ipcChannel = (name: CallName | EventName): string => `switchboard:${name}`

/** What a transport must do: carry a call and its answer, and deliver events. */
export interface Transport {
  invoke<C extends CallName>(call: C, args: CallArgs<C>): Promise<CallResult<C>>
  subscribe<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): Unsubscribe
}

/** Builds the API from a transport, with no glue per method (like VS Code's ProxyChannel.toService). */
export function createApiProxy(transport: Transport): SwitchboardApi {
  const api: Record<string, unknown> = {}
  for (const call of CALL_NAMES) {
    api[call] = (...args: unknown[]) => transport.invoke(call, args as never)
  }
  for (const event of EVENT_NAMES) {
    api[event] = (listener: (payload: EventPayload<EventName>) => void) => transport.subscribe(event, listener)
  }
  return api as unknown as SwitchboardApi
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxSessions: 10_000,
  maxLineBytes: 4096,
  // Redis's pubsub client-output-buffer-limit, with a shorter grace: a reader that stalls for a GC pause or a
  // window drag in a 100 MB/s room falls some MB behind and catches up; one that stops reading is cut within seconds.
  maxOutputBytes: 32 << 20,
  softOutputBytes: 8 << 20,
  softOutputMs: 5000,
  // 10,000 readers at their hard limit would be 320 GB: the node's own cap comes first.
  maxTotalOutputBytes: 256 << 20,
  // Twitch stops sending JOIN/PART in channels above 1,000 users; past that, presence is N² lines.
  presenceLimit: 1000,
  // Far above a person typing and above a traffic-lab client of the default runs (a few hundred/s),
  // far below what one socket can push (hundreds of thousands/s).
  maxRate: 5000,
  rateBurst: 10_000,
  idleTimeoutMs: 300_000,
  partialTimeoutMs: 30_000,
  // A minute of a busy room (or a day of a quiet one) to resume from; 1,000 is what one HISTORY may ask for.
  historyMessages: 1000,
  historyBytes: 1 << 20,
  maxTotalHistoryBytes: 64 << 20
}

export const DEFAULT_SERVER_CONFIG: ServerConfig = {
  listeners: [
    { codec: 'line', host: '127.0.0.1', port: 7000 },
    { codec: 'asio', host: '127.0.0.1', port: 7001 }
  ],
  workers: 2,
  workUs: 0,
  cluster: null,
  limits: DEFAULT_LIMITS
}
