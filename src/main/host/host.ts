import type {
  BoundListener,
  CallArgs,
  CallName,
  CallResult,
  ClientConfig,
  EventName,
  EventPayload,
  ServerConfig,
  ServerLimits,
  ServerState
} from '../../shared/contract'
import { DEFAULT_SERVER_CONFIG } from '../../shared/contract'
import { withoutPassword, type LoadConfig, type LoadReport, type LoadTarget } from '../../shared/load'
import { chartPoint, type ChartPoint, type LogEvent, type MetricsSnapshot, type SessionPage, type SessionQuery } from '../../shared/telemetry'
import type { ClientTls } from '../core/client/client'
import type { AgentLauncher } from '../core/load/agent-process'
import { clusterBackend, type ClusterTuning } from '../core/cluster/cluster-chat'
import type { RedisAccess } from '../core/cluster/config'
import { LoadRun } from '../core/load/coordinator'
import type { ServerOptions } from '../core/server/options'
import { ChatServer, type ServerCounters } from '../core/server/server'
import { aimsAtOwn, answers, checkLoadReach, checkServerReach, checkTargetReach, OWN_SERVER_ONLY, type Reach } from './reach'
import { SETTINGS_VERSION, type Settings, type SettingsStore } from './settings'
import { WindowClient } from './window-client'
import { validateCall } from './validate'

/** Where a peer's events go: one window's webContents, one WebSocket, or the CLI's console. */
export interface PeerChannel {
  send<E extends EventName>(event: E, payload: EventPayload<E>): void
}

export interface HostOptions {
  workerFile: string
  /** The built load agent (out/main/load-agent.js): traffic-lab runs happen in processes of their own. */
  loadAgentFile: string
  /** Server options the contract does not carry (deadlines, marks), applied to every start; limits come with each start. */
  serverDefaults?: Partial<Omit<ServerOptions, keyof ServerConfig | keyof ServerLimits | 'workerFile'>>
  /** How load agents are started: child_process.fork unless given (Electron passes utility processes). */
  launchAgent?: AgentLauncher
  /** Opens a window with a client of its own, where the platform has windows (Electron). */
  openClientWindow?: () => void
  /** The server config to start with; without it, the one kept in `settings`, else the defaults. */
  config?: ServerConfig
  /** Where the server config and the traffic lab's last run are kept between launches; none: nothing is kept. */
  settings?: SettingsStore
  /** What pages may reach beyond this server's loopback listeners; this server alone unless given. */
  reach?: Reach
  /** How a cluster node uses Redis (serve's --room-ttl); the defaults unless given. */
  clusterTuning?: ClusterTuning
  /** Credentials and CA for the operator's Redis (--cluster, --redis-ca): used for that address only, never shown. */
  redisAccess?: RedisAccess | null
}

const LOG_FLUSH_MS = 250
/** Earlier traffic-lab reports kept for comparison. */
const LOAD_REPORTS_KEPT = 20
/** Events kept for a window that opens later; the renderer keeps its own, longer cap. */
const LOG_BACKLOG = 500
/** Chart points kept for a window that opens or reloads: five minutes of 4 Hz snapshots. */
const CHART_POINTS = 1200

/**
 * Implements the contract on top of the core, for any number of peers (windows, tabs, the CLI).
 * Electron-free: the Electron shell and the web host are two transports in front of it.
 */
export class SwitchboardHost {
  private server: ChatServer | null = null
  private state: ServerState
  private readonly peers = new Set<HostPeer>()
  private pendingLog: LogEvent[] = []
  private readonly backlog: LogEvent[] = []
  private logTimer: NodeJS.Timeout | null = null
  private readonly chart: ChartPoint[] = []
  private transition: Promise<unknown> = Promise.resolve()
  private loadRun: LoadRun | null = null
  private readonly loadReports: LoadReport[] = []
  private nextRunId = 1
  /** The last run's login, in memory only: settings keep it without its password. */
  private lastLoadAuth: LoadConfig['auth'] = null
  /** What is kept (or would be, with a store): the last start's config and the last run's. */
  private settings: Settings
  private saving: Promise<unknown> = Promise.resolve()
  /** Set when disposal begins: from then on nothing new is started (a server, a run, a window). */
  private disposal: Promise<void> | null = null

  constructor(private readonly options: HostOptions) {
    const kept = options.settings?.kept
    this.settings = { version: SETTINGS_VERSION, server: options.config ?? kept?.server ?? DEFAULT_SERVER_CONFIG, load: kept?.load ?? null }
    this.state = { status: 'stopped', config: this.settings.server, bound: [], startedAt: null, error: null }
    // In the backlog, so the first window to open sees it.
    if (options.settings?.problem) this.log({ at: Date.now(), kind: 'error', text: options.settings.problem })
  }

  get serverState(): ServerState {
    return this.state
  }

  /** The running server's totals and levels for a scraper (GET /metrics); null while it is stopped. */
  counters(): ServerCounters | null {
    return this.server?.counters() ?? null
  }

  attach(channel: PeerChannel): HostPeer {
    const peer = new HostPeer(this, channel)
    this.peers.add(peer)
    channel.send('onServerState', this.state)
    if (this.backlog.length > 0) channel.send('onLog', [...this.backlog])
    return peer
  }

  detach(peer: HostPeer): void {
    if (this.peers.delete(peer)) peer.dispose()
  }

  /** Starts and stops are queued, so a double click cannot interleave two of them. */
  startServer(config: ServerConfig): Promise<ServerState> {
    // Refused outright, neither queued nor kept: a page may not widen what the process allows.
    try {
      checkServerReach(config, this.reach)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.serialize(() => this.start(config))
  }

  stopServer(): Promise<ServerState> {
    return this.serialize(() => this.stop())
  }

  /** A session of another node is kicked by that node, asked through Redis; this one cannot close its socket. */
  async kickSession(sessionId: number, node?: string): Promise<boolean> {
    const server = this.server
    if (!server) return false
    if (node === undefined || node === server.nodeId) return server.kick(sessionId, 'by the control panel')
    return server.kickRemote(node, sessionId, 'by the control panel')
  }

  /** One run at a time: two generators on two cores would measure each other, not the server. */
  startLoad(config: LoadConfig): { runId: number } {
    this.refuseWhileClosing('start a load run')
    // A kept config comes back without its password: it must be typed again, not sent empty to every login.
    if (config.auth?.password === '') throw new Error(`load run: the password of ${config.auth.user} is needed (passwords are never kept)`)
    checkLoadReach(config, this.state.bound, this.reach)
    if (this.loadRun) throw new Error(`load run ${this.loadRun.runId} is still going; stop it first`)
    const run = new LoadRun(config, {
      agentFile: this.options.loadAgentFile,
      launch: this.options.launchAgent,
      runId: this.nextRunId++,
      // A run aimed only at other servers (allowed targets) is not stormed by restarting this one: its agents cut their connections.
      restartServer: aimsAtOwn(config, this.state.bound) ? () => this.restartForStorm() : undefined
    })
    this.loadRun = run
    this.lastLoadAuth = config.auth
    this.keep({ load: withoutPassword(config) })
    run.on('progress', (progress) => this.broadcast('onLoadProgress', progress))
    run.on('report', (report) => {
      this.loadRun = null
      this.loadReports.push(report)
      if (this.loadReports.length > LOAD_REPORTS_KEPT) this.loadReports.shift()
      this.broadcast('onLoadReport', report)
    })
    return { runId: run.runId }
  }

  /**
   * The traffic lab's reconnect storm: the server stopped and started again, on the ports it had (a listener
   * asked for port 0 would otherwise come back elsewhere, and its clients would not find it).
   */
  private restartForStorm(): Promise<string> {
    return this.serialize(async () => {
      const { config, bound } = this.state
      if (!this.server) throw new Error('the server is not running')
      const startedAt = performance.now()
      await this.stop()
      const pinned = { ...config, listeners: config.listeners.map((listener, i) => ({ ...listener, port: bound[i]?.port ?? listener.port })) }
      const state = await this.start(pinned, false)
      // Still the config asked for (port 0 stays 0 for the next start), whether or not it came back.
      this.setState({ config })
      // Said in the log by start(), and in the run's report by the caller.
      if (state.status !== 'running') throw new Error(`it did not start again: ${state.error ?? 'unknown'}`)
      const took = Math.round(performance.now() - startedAt)
      this.log({ at: Date.now(), kind: 'shutdown', text: `reconnect storm: server restarted in ${took} ms` })
      return `server restarted in ${took} ms`
    })
  }

  /** Reads the running server's TLS certificate and users again (SIGHUP); says what it read, throws if it cannot. */
  reload(): string {
    if (!this.server) throw new Error('the server is not running')
    return this.server.reload()
  }

  stopLoad(): void {
    this.loadRun?.stop()
  }

  get loadRuns(): LoadReport[] {
    return [...this.loadReports]
  }

  /** The last run's config as kept: its password left out. */
  get lastLoadConfig(): LoadConfig | null {
    return this.settings.load
  }

  /** The last run again (the menu's Run Load): with its password while this process still has it in memory. */
  get loadToRepeat(): LoadConfig | null {
    const last = this.settings.load
    return last?.auth && this.lastLoadAuth?.user === last.auth.user ? { ...last, auth: this.lastLoadAuth } : last
  }

  /** Throws unless a window's client may connect to `target`: before any connection is opened. */
  checkClientTarget(target: ClientConfig): void {
    checkTargetReach(target, this.state.bound, this.reach)
    // Either way it would be closed at its first byte, and (a line window) try again for ever: said now instead.
    const own = this.ownListener(target)
    if (own?.tls && !target.tls) throw new Error(`${own.name} is a TLS listener: connect with TLS`)
    if (own && !own.tls && target.tls) throw new Error(`${own.name} does not speak TLS: connect without it`)
  }

  /**
   * What a window's TLS connection trusts: this server's own listener, whatever certificate it presents (it is
   * this server's, possibly self-signed); any other server, the system's CAs (and NODE_EXTRA_CA_CERTS).
   */
  clientTls(target: ClientConfig): ClientTls | undefined {
    if (!target.tls) return undefined
    return this.ownListener(target) ? { insecure: true } : {}
  }

  private ownListener(target: LoadTarget): BoundListener | undefined {
    return this.state.bound.find((listener) => answers(listener, target))
  }

  /**
   * Whether a window's client may reconnect to `target` now (see Reconnecting): while this server is not
   * running (a restart) its own listeners are waited for, not given up on.
   */
  reconnectReach(target: ClientConfig): string | null {
    try {
      this.checkClientTarget(target)
      return null
    } catch (error) {
      if (this.state.status !== 'running') return `waiting for the server to run again (${this.state.status})`
      throw error
    }
  }

  private get reach(): Reach {
    return this.options.reach ?? OWN_SERVER_ONLY
  }

  openClientWindow(): void {
    this.refuseWhileClosing('open a window')
    if (!this.options.openClientWindow) throw new Error('this host has no windows to open')
    this.options.openClientWindow()
  }

  /** Stops the server gracefully and lets every peer go: for quitting the app or the CLI. Once, however often asked. */
  dispose(): Promise<void> {
    this.disposal ??= this.shutDown()
    return this.disposal
  }

  private refuseWhileClosing(what: string): void {
    if (this.disposal) throw new Error(`cannot ${what}: the control room is closing`)
  }

  private async shutDown(): Promise<void> {
    this.log({ at: Date.now(), kind: 'shutdown', text: 'control room closing: stopping the server' })
    const load = this.loadRun
    load?.abort('the host shut down')
    await load?.done
    await this.stopServer()
    // Quitting must not cut the last save short.
    await this.saving
    // The last of the log (the server's shutdown) reaches the windows before they are let go.
    this.flushLog()
    for (const peer of [...this.peers]) this.detach(peer)
  }

  /** Keeps a change of settings; a save that fails is reported in the log, and changes nothing else. */
  private keep(change: Partial<Settings>): void {
    this.settings = { ...this.settings, ...change }
    const store = this.options.settings
    if (!store) return
    this.saving = store.save(this.settings).then((problem) => {
      if (problem) this.log({ at: Date.now(), kind: 'error', text: problem })
    })
  }

  private serialize<T>(step: () => Promise<T>): Promise<T> {
    const next = this.transition.then(step, step)
    this.transition = next
    return next
  }

  /** `remember`: keep the config as the one to start with next time (not a storm's restart on pinned ports). */
  private async start(config: ServerConfig, remember = true): Promise<ServerState> {
    // A start queued behind the disposal's stop (a click as the app quits) must not bring the server back.
    if (this.server || this.disposal) return this.state
    // Kept even if the start fails (a port in use): it is what the user asked for, to correct next time.
    if (remember) this.keep({ server: config })
    this.setState({ status: 'starting', config, error: null })
    const { limits, cluster, ...rest } = config
    // The composition root of the app and the CLI: the line backend is chosen here, not in the server.
    const lineBackend = cluster === null ? undefined : clusterBackend(cluster, this.options.clusterTuning, this.options.redisAccess ?? null)
    try {
      // Inside: the options it refuses (TLS without a certificate, a users file that is wrong) are a failed start too.
      const server = new ChatServer({ ...this.options.serverDefaults, ...limits, ...rest, lineBackend, workerFile: this.options.workerFile })
      server.on('log', (event) => this.log(event))
      server.on('metrics', (snapshot) => this.publish(snapshot))
      const bound = await server.start()
      this.server = server
      this.setState({ status: 'running', bound, startedAt: Date.now() })
    } catch (error) {
      this.setState({ status: 'stopped', bound: [], startedAt: null, error: (error as Error).message })
      this.log({ at: Date.now(), kind: 'error', text: `server failed to start: ${(error as Error).message}` })
    }
    return this.state
  }

  private async stop(): Promise<ServerState> {
    const server = this.server
    if (!server) return this.state
    this.setState({ status: 'stopping' })
    try {
      await server.stop()
      this.setState({ status: 'stopped', bound: [], startedAt: null })
      this.log({ at: Date.now(), kind: 'shutdown', text: 'server stopped' })
    } catch (error) {
      this.setState({ status: 'stopped', bound: [], startedAt: null, error: (error as Error).message })
      this.log({ at: Date.now(), kind: 'error', text: `server stopped with an error: ${(error as Error).message}` })
    }
    this.server = null
    return this.state
  }

  private setState(change: Partial<ServerState>): void {
    this.state = { ...this.state, ...change }
    this.broadcast('onServerState', this.state)
  }

  /**
   * A snapshot goes to every peer, and its chart point into the history. Then each peer gets its page of
   * sessions: computed once per distinct query, each in an event-loop turn of its own (a page walks every
   * session: three viewers' pages in one turn with the snapshot would hold up the sessions' I/O three times
   * as long), and sent as one object, which the web host encodes once.
   */
  private publish(snapshot: MetricsSnapshot): void {
    this.chart.push(chartPoint(snapshot))
    if (this.chart.length > CHART_POINTS) this.chart.shift()
    this.broadcast('onMetrics', snapshot)
    const viewers = new Map<string, { query: SessionQuery; peers: HostPeer[] }>()
    for (const peer of this.peers) {
      if (peer.sessionQuery === null) continue
      const key = queryKey(peer.sessionQuery)
      const group = viewers.get(key) ?? { query: peer.sessionQuery, peers: [] }
      group.peers.push(peer)
      viewers.set(key, group)
    }
    const next = (groups: [string, { query: SessionQuery; peers: HostPeer[] }][]): void => {
      const [group, ...rest] = groups
      if (!group) return
      const [key, { query, peers }] = group
      const page = this.sessionPage(query)
      // The server is gone (a stop overtook the snapshot): nobody gets a page.
      if (!page) return
      // A peer that asked for another page meanwhile was answered then: this one is no longer its page.
      for (const peer of peers) if (this.peers.has(peer) && peer.sessionQuery && queryKey(peer.sessionQuery) === key) peer.channel.send('onSessions', page)
      setImmediate(next, rest)
    }
    setImmediate(next, [...viewers])
  }

  /** The last minutes of chart points (across restarts: a stop shows as a gap). */
  get metricsHistory(): ChartPoint[] {
    return [...this.chart]
  }

  /** A page of the running server's sessions; null while it is stopped. */
  sessionPage(query: SessionQuery): SessionPage | null {
    return this.server?.sessionPage(query) ?? null
  }

  broadcast<E extends EventName>(event: E, payload: EventPayload<E>): void {
    for (const peer of this.peers) peer.channel.send(event, payload)
  }

  /** Log events go out in batches: 10,000 clients connecting must not mean 10,000 messages to every window. */
  private log(event: LogEvent): void {
    this.pendingLog.push(event)
    this.backlog.push(event)
    if (this.backlog.length > LOG_BACKLOG) this.backlog.splice(0, this.backlog.length - LOG_BACKLOG)
    this.logTimer ??= setTimeout(() => this.flushLog(), LOG_FLUSH_MS)
  }

  private flushLog(): void {
    if (this.logTimer) clearTimeout(this.logTimer)
    this.logTimer = null
    if (this.pendingLog.length === 0) return
    const batch = this.pendingLog
    this.pendingLog = []
    this.broadcast('onLog', batch)
  }
}

const queryKey = (query: SessionQuery): string => JSON.stringify(query)

/** One window's (or tab's) view of the host: its calls, and the chat client it owns. */
export class HostPeer {
  private readonly client: WindowClient
  /** The page of sessions this window looks at; null until it asks for one (the CLI never does). */
  sessionQuery: SessionQuery | null = null

  constructor(
    private readonly host: SwitchboardHost,
    readonly channel: PeerChannel
  ) {
    this.client = new WindowClient(channel, (config) => host.reconnectReach(config))
  }

  /** Validates untrusted arguments, then runs the call. */
  invoke(call: string, args: unknown): Promise<unknown> {
    try {
      const valid = validateCall(call as CallName, args)
      return Promise.resolve((this.handlers[call as CallName] as (...a: unknown[]) => unknown)(...valid))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  dispose(): void {
    void this.client.dispose()
  }

  private readonly handlers: { [C in CallName]: (...args: CallArgs<C>) => CallResult<C> | Promise<CallResult<C>> } = {
    getServerState: () => this.host.serverState,
    startServer: (config) => this.host.startServer(config),
    stopServer: () => this.host.stopServer(),
    kickSession: (sessionId, node) => this.host.kickSession(sessionId, node),
    connectClient: (config) => {
      this.host.checkClientTarget(config)
      return this.client.connect(config, this.host.clientTls(config))
    },
    sendClient: (text) => this.client.send(text),
    closeClient: () => this.client.close(),
    openClientWindow: () => this.host.openClientWindow(),
    startLoad: (config) => this.host.startLoad(config),
    stopLoad: () => this.host.stopLoad(),
    getLoadRuns: () => this.host.loadRuns,
    getLastLoadConfig: () => this.host.lastLoadConfig,
    getMetricsHistory: () => this.host.metricsHistory,
    setSessionQuery: (query) => {
      this.sessionQuery = query
      // At once, not at the next snapshot: a click on a column answers now.
      const page = this.host.sessionPage(query)
      if (page) this.channel.send('onSessions', page)
    }
  }
}
