import { EventEmitter } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'
import type { BoundListener, ListenerConfig } from '../../../shared/contract'
import type { ClusterMetrics, LogEvent, LogKind, MetricsSnapshot, SessionMetrics, SessionPage, SessionQuery, SlowDrop } from '../../../shared/telemetry'
import { getCodec, type Codec, type DecodeErrorCode } from '../codec'
import { createInlineExecutor, createPoolExecutor, type LogicExecutor } from '../logic/executor'
import { FRAME_FAILED, LogicPipeline, type PipelineEntry } from '../logic/pipeline'
import { calibrateSpin } from '../logic/work'
import { MetricsSampler } from '../metrics/sampler'
import { leading, sessionPage, sessionRow, type Describe, type Keyed } from '../metrics/session-page'
import { within } from '../within'
import type { Command, ErrorCode } from '../protocol/commands'
import { reply } from '../protocol/replies'
import { readUsers } from '../auth/users'
import { AsioRelay } from './asio-relay'
import { AuthGate } from './auth-gate'
import type { ChatProtocol } from './chat-protocol'
import type { RateVerdict } from './flood-control'
import { LineChat } from './line-chat'
import type { LineBackend } from './line-backend'
import { checkOptions, DEFAULTS, listenerName, type ServerOptions } from './options'
import { TlsTerminator } from '../net/tls-terminator'
import { ReadGate } from './read-gate'
import { Session, SLOW_CONSUMER, type FlushWhen, type SessionHost, type SessionLimits } from './session'

export type { BoundListener }

interface Listener {
  spec: BoundListener
  codec: Codec
  server: Server
  /** The line listeners share the server's line backend; each asio listener is a room of its own. */
  protocol: ChatProtocol
}

/**
 * What a marker in the logic queue says about its session, in order with its frames:
 * - refuse: tell the session something was refused (ERR in the line protocol); it goes on;
 * - broken: it broke framing or a limit; answer what came before, say why, then close;
 * - finished: the peer sent all it will send (it half-closed); answer what came before, then close;
 * - closed: the connection is gone; leave its room and forget it.
 */
type Marker =
  | { kind: 'refuse' | 'broken'; code: ErrorCode; detail: string }
  | { kind: 'finished' | 'closed'; reason: string }

/** A frame on its way through the logic stage, or a marker about its session. */
interface Entry extends PipelineEntry {
  session: Session
  listener: Listener
  arrivedAt: number
  marker?: Marker
}

export interface ServerEvents {
  log: [LogEvent]
  metrics: [MetricsSnapshot]
}

/** Connections the kernel may hold for us before we accept them. */
const LISTEN_BACKLOG = 4096

/**
 * How long lazy output (presence in a crowd) may wait to be written with more. Node accepts one connection
 * per event-loop turn (libuv#3696): turns that each write to a whole room let the kernel's accept queue
 * overflow while a crowd connects, and every drop costs a client a 1 s SYN retransmit.
 */
const LAZY_FLUSH_MS = 10

/** Ends the server chose for a limit a session ran into, not for a fault: logged as 'limit'. */
const LIMIT_CODES = new Set<ErrorCode>(['rate-limited', 'idle-timeout', 'partial-timeout'])

type Counters = Pick<SessionMetrics, 'msgsIn' | 'msgsOut' | 'bytesIn' | 'bytesOut' | 'rateLimited'>

/** Rooms a snapshot names (the largest), sessions it shows as the slowest, and slow-consumer drops it recalls. */
const TOP_ROOMS = 20
const SLOWEST_SHOWN = 5
const SLOW_DROPS_KEPT = 20

/** Why the server ended a session for a limit it ran into. */
export type LimitEnd = 'slow-consumer' | 'idle-timeout' | 'partial-timeout' | 'rate-limited'

/**
 * What a scraper reads (GET /metrics): totals since the server started and levels now. Read without the
 * 4 Hz snapshot's session list, and without starting a new sampling interval (the status line's rates and
 * percentiles stay the sampler's own).
 */
export interface ServerCounters extends Counters {
  /** Sessions open now, by listener name (every listener, with none too). */
  sessionsByListener: Record<string, number>
  limitEnds: Record<LimitEnd, number>
  logicQueueDepth: number
  /** Output pending for all sessions (what --max-total-output caps). */
  outputPendingBytes: number
  sessionsHeld: number
  batchesRedone: number
  /** On a node of a cluster, its view of Redis; null on a server on its own. */
  cluster: ClusterMetrics | null
}

function addCounters(into: Counters, from: Counters): void {
  into.msgsIn += from.msgsIn
  into.msgsOut += from.msgsOut
  into.bytesIn += from.bytesIn
  into.bytesOut += from.bytesOut
  into.rateLimited += from.rateLimited
}

/** The sweep's period: a quarter of the shortest timeout or soft-limit grace, within reason. */
function sweepPeriod({ idleTimeoutMs, partialTimeoutMs, softOutputBytes, softOutputMs }: ServerOptions): number {
  const grace = softOutputBytes > 0 ? softOutputMs : 0
  const shortest = Math.min(...[idleTimeoutMs, partialTimeoutMs, grace].filter((ms) => ms > 0), 4000)
  return Math.min(1000, Math.max(25, shortest / 4))
}

/**
 * The chat server: listeners, sessions and chat state on the I/O thread; the logic step in a
 * worker pool behind an ordered pipeline. Runs in plain Node; it knows nothing of Electron.
 */
export class ChatServer extends EventEmitter<ServerEvents> implements SessionHost {
  readonly options: ServerOptions
  private readonly endpoints = new Map<string, Listener>()
  private readonly sessions = new Map<number, Session>()
  /** The line listeners' rooms and nicks: this process's own, or shared with a cluster's other nodes. */
  private readonly chat: LineBackend
  /** The line listeners' way in to `chat`: through a login, on a server with users. */
  private readonly door: AuthGate
  /** The last snapshot's totals, for the cluster heartbeat. */
  private lastTotals: MetricsSnapshot['totals'] | null = null
  private readonly executor: LogicExecutor
  private readonly pipeline: LogicPipeline<Entry>
  private readonly gate: ReadGate
  private readonly sampler: MetricsSampler
  /**
   * Per session, what its commits still being applied (in a cluster: waiting on Redis) settle with. A marker
   * that ends the session waits for it, so the answers to what it sent before come first, as on one node.
   */
  private readonly applying = new WeakMap<Session, Promise<unknown>>()
  private readonly dirty = new Set<Session>()
  private readonly limits: SessionLimits
  private flushScheduled = false
  /** Sessions with only lazy output queued, flushed together every LAZY_FLUSH_MS. */
  private readonly lazyDirty = new Set<Session>()
  private lazyFlushTimer: NodeJS.Timeout | null = null
  private stopping: Promise<void> | null = null
  /** Resolved when the last session is gone (see allClosed). */
  private readonly whenEmpty: (() => void)[] = []
  private metricsTimer: NodeJS.Timeout | null = null
  /** The TLS listeners' handshakes and certificate; made at start (reading the files), if there are any. */
  private tls: TlsTerminator | null = null
  private sweepTimer: NodeJS.Timeout | null = null
  private nextId = 1
  /** Counters of sessions that are gone; live sessions keep their own. */
  private readonly retired: Counters = { msgsIn: 0, msgsOut: 0, bytesIn: 0, bytesOut: 0, rateLimited: 0 }
  private readonly limitEnds: Record<LimitEnd, number> = { 'slow-consumer': 0, 'idle-timeout': 0, 'partial-timeout': 0, 'rate-limited': 0 }
  /** Output pending for every session, as each last reported it: what maxTotalOutputBytes caps. */
  private outputBytes = 0
  /** Set while makeOutputRoom counts again and drops: the reports it causes must not start it over. */
  private makingRoom = false
  private readonly slowDrops: SlowDrop[] = []

  constructor(options: Partial<ServerOptions> & Pick<ServerOptions, 'listeners'>) {
    super()
    this.options = { ...DEFAULTS, ...options }
    checkOptions(this.options)
    const { usersFile } = this.options
    const users = usersFile === undefined ? null : readUsers(usersFile)
    const { workers, workerFile, workUs, maxBatch, logicHighWater } = this.options
    if (workers > 0 && !workerFile) throw new Error('workerFile is required when workers > 0')
    // After the checks: its lag probe is a timer, which a constructor that throws would leave running.
    this.sampler = new MetricsSampler()
    const onWorkerError = (error: unknown) => this.log('error', `logic worker failed: ${String(error)}`)
    this.executor = workers > 0 ? createPoolExecutor(workers, workerFile!, onWorkerError) : createInlineExecutor()
    const { presenceLimit, maxLineBytes, historyMessages, historyBytes, maxTotalHistoryBytes, lineBackend } = this.options
    this.chat = (lineBackend ?? ((limits) => new LineChat(limits)))({
      presenceLimit,
      maxLineBytes,
      historyMessages,
      historyBytes,
      maxTotalHistoryBytes,
      beat: () => ({
        sessions: this.sessions.size,
        msgsInPerSec: this.lastTotals?.msgsInPerSec ?? 0,
        msgsOutPerSec: this.lastTotals?.msgsOutPerSec ?? 0,
        listeners: this.addresses.map(({ codec, host, port, tls }) => `${tls ? 'tls+' : ''}${codec}:${host}:${port}`)
      }),
      kick: (sessionId, reason) => this.kick(sessionId, reason),
      pressure: (full) => this.gate.press('backlog', full),
      log: (text, error) => this.log(error ? 'error' : 'cluster', text)
    })
    this.door = new AuthGate(this.chat, users, {
      failDelayMs: this.options.authFailDelayMs,
      // A login is as a line: one that takes longer than a line may stay incomplete is not coming.
      loginTimeoutMs: this.options.partialTimeoutMs,
      log: (kind, text, id) => this.log(kind, text, id)
    })
    this.limits = {
      maxPayload: this.options.maxLineBytes,
      maxOutputBytes: this.options.maxOutputBytes,
      softOutputBytes: this.options.softOutputBytes,
      softOutputMs: this.options.softOutputMs,
      lingerMs: this.options.shutdownDeadlineMs,
      idleTimeoutMs: this.options.idleTimeoutMs,
      partialTimeoutMs: this.options.partialTimeoutMs,
      maxRate: this.options.maxRate,
      rateBurst: this.options.rateBurst
    }
    this.gate = new ReadGate({
      highWater: logicHighWater,
      sessionHighWater: this.options.sessionHighWater,
      log: (kind, text) => this.log(kind, text)
    })
    this.pipeline = new LogicPipeline<Entry>(this.executor, {
      commit: (entry, command) => this.commit(entry, command),
      onPressure: (paused) => this.gate.press('logic', paused),
      onBatchRedone: (error, timedOut) =>
        this.log(
          'error',
          timedOut
            ? `logic worker passed its batch deadline: worker replaced, batch redone inline`
            : `logic worker failed, batch redone inline: ${String(error)}`
        ),
      onFrameFailed: (entry, error) =>
        this.log('error', `session ${entry.session.id}: a message failed in the logic step, sender told: ${String(error)}`, entry.session.id),
      onCommitFailed: ({ session, listener }, error) => {
        this.log('error', `session ${session.id}: applying a message failed, sender told: ${String(error)}`, session.id)
        listener.protocol.refuse(session, 'internal', FRAME_FAILED.text)
      },
      maxBatch,
      maxInFlight: Math.max(2, workers * 2),
      highWater: logicHighWater,
      lowWater: Math.floor(logicHighWater / 2),
      spinIterations: workUs > 0 ? Math.round(workUs * calibrateSpin()) : 0,
      // A batch may legitimately take its simulated work; twice that, plus the deadline, is a hang.
      batchDeadlineMs: this.options.batchTimeoutMs > 0 ? this.options.batchTimeoutMs + (2 * maxBatch * workUs) / 1000 : 0
    })
  }

  /**
   * Reads its files again (on SIGHUP): the TLS listeners' certificate, key and CA, and the users. Connections
   * from now on get the new certificate and logins check the new users; sessions already in keep theirs.
   * Throws, keeping the old ones, if one cannot be read. Says what it read again.
   */
  reload(): string {
    const { usersFile } = this.options
    if (!this.tls && usersFile === undefined) throw new Error('this server has no TLS listener and no users file')
    // Both read before either is taken: a bad file changes nothing.
    const users = usersFile === undefined ? null : readUsers(usersFile)
    this.tls?.reload()
    if (users) this.door.setUsers(users)
    const what = [this.tls ? 'TLS certificate' : '', users ? `users (${users.size})` : ''].filter(Boolean).join(' and ')
    this.log('listen', `${what} read again`)
    return what
  }

  /** Binds every listener (port 0 picks a free one) and starts emitting metrics. */
  async start(): Promise<BoundListener[]> {
    try {
      // Into the cluster first: a node that cannot reach Redis must not take connections it cannot serve.
      await this.chat.open()
      if (this.options.tls && this.options.listeners.some((spec) => spec.tls)) this.tls = new TlsTerminator(this.options.tls, this.options.partialTimeoutMs, this.options.tlsHandshakesPerTurn)
      for (const spec of this.options.listeners) await this.listen(spec)
    } catch (error) {
      await this.stop()
      throw error
    }
    this.metricsTimer = setInterval(() => this.emit('metrics', this.snapshot()), this.options.metricsIntervalMs)
    this.metricsTimer.unref()
    this.sweepTimer = setInterval(() => this.sweep(), sweepPeriod(this.options))
    this.sweepTimer.unref()
    return this.addresses
  }

  /** This node's name in its cluster; null for a process on its own. */
  get nodeId(): string | null {
    return this.chat.nodeId
  }

  get addresses(): BoundListener[] {
    return [...this.endpoints.values()].map((listener) => listener.spec)
  }

  /**
   * The 4 Hz snapshot: totals and aggregates, in one pass over the sessions that also samples each one's
   * rate for the pages (sessionPage). Its size does not grow with the sessions.
   */
  snapshot(): MetricsSnapshot {
    const now = performance.now()
    const totals = { ...this.retired }
    const listeners = new Map([...this.endpoints.keys()].map((name) => [name, { listener: name, sessions: 0, msgsInPerSec: 0, queuedBytes: 0 }]))
    const rooms = new Map<string, number>()
    const pendingOutput: Keyed[] = []
    for (const session of this.sessions.values()) {
      addCounters(totals, session)
      session.sample(now)
      const pending = session.queuedBytes
      const aggregate = listeners.get(session.listener)
      if (aggregate) {
        aggregate.sessions++
        aggregate.msgsInPerSec += session.msgsInPerSec
        aggregate.queuedBytes += pending
      }
      const { room } = this.describe(session)
      if (room !== null) rooms.set(room, (rooms.get(room) ?? 0) + 1)
      if (pending > 0) pendingOutput.push({ session, key: pending })
    }
    const sampled = this.sampler.sample({
      ...totals,
      sessions: this.sessions.size,
      queuedBytes: this.outputBytes,
      slowConsumers: this.limitEnds['slow-consumer'],
      logicQueueDepth: this.pipeline.depth,
      logicQueuePeak: this.pipeline.takePeak(),
      batchesInFlight: this.pipeline.batchesInFlight,
      readingPaused: this.gate.closed,
      sessionsHeld: this.gate.held,
      poolThreads: this.executor.threads,
      logicBusyMs: this.pipeline.busyMs,
      batchesRedone: this.pipeline.batchesRedone,
      batchTimeouts: this.pipeline.batchTimeouts
    })
    this.lastTotals = sampled
    const topRooms = [...rooms].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, TOP_ROOMS)
    return {
      at: Date.now(),
      uptimeMs: now - this.sampler.startedAt,
      totals: sampled,
      listeners: [...listeners.values()],
      rooms: topRooms.map(([room, members]) => ({ room, members })),
      roomCount: rooms.size,
      slowest: leading(pendingOutput, SLOWEST_SHOWN).map(({ session }) => sessionRow(session, this.describe, now)),
      slowDrops: [...this.slowDrops],
      cluster: this.chat.metrics()
    }
  }

  /** One viewer's page of sessions, sorted and filtered here (by the rates the last snapshot sampled). */
  sessionPage(query: SessionQuery): SessionPage {
    return sessionPage(this.sessions.values(), this.describe, query, performance.now())
  }

  private readonly describe: Describe = (session) => this.listenerOf(session).protocol.describe(session)

  counters(): ServerCounters {
    const totals = { ...this.retired }
    const sessionsByListener = Object.fromEntries([...this.endpoints.values()].map((listener) => [listener.spec.name, 0]))
    for (const session of this.sessions.values()) {
      addCounters(totals, session)
      sessionsByListener[session.listener] = (sessionsByListener[session.listener] ?? 0) + 1
    }
    return {
      ...totals,
      sessionsByListener,
      limitEnds: { ...this.limitEnds },
      logicQueueDepth: this.pipeline.depth,
      outputPendingBytes: this.outputBytes,
      sessionsHeld: this.gate.held,
      batchesRedone: this.pipeline.batchesRedone,
      cluster: this.chat.metrics()
    }
  }

  kick(sessionId: number, reason = 'kicked'): boolean {
    const session = this.sessions.get(sessionId)
    if (!session?.open) return false
    this.log('kick', `session ${sessionId} kicked: ${reason}`, sessionId)
    this.listenerOf(session).protocol.farewell(session, `kicked ${reason}`)
    session.end(`kicked: ${reason}`)
    return true
  }

  /** Asks another node of the cluster to kick one of its sessions; false if not clustered or that node is not alive. */
  kickRemote(node: string, sessionId: number, reason: string): Promise<boolean> {
    return this.chat.kickRemote(node, sessionId, reason)
  }

  /**
   * Stops accepting, commits what was already accepted, sends every session its queued output
   * and closes it; whatever is still unsent at the deadline is cut off. Then the pool is closed.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown()
    return this.stopping
  }

  private async shutdown(): Promise<void> {
    if (this.metricsTimer) clearInterval(this.metricsTimer)
    if (this.sweepTimer) clearInterval(this.sweepTimer)
    this.gate.shutdown()
    // close() stops accepting now; its callback waits for the sessions, which are ended below.
    const unbound = [...this.endpoints.values()].map(({ server }) => new Promise((resolve) => server.close(resolve)))
    this.tls?.close()
    // Each step has its own share of the deadline: a stuck logic stage must not cost anyone their BYE.
    const deadline = this.options.shutdownDeadlineMs
    if (this.sessions.size > 0) this.log('shutdown', `stopping: ${this.sessions.size} sessions to close`)
    for (const session of this.sessions.values()) session.pauseReading()
    await within(this.pipeline.whenIdle(), deadline * 0.5)
    for (const session of this.sessions.values()) {
      this.listenerOf(session).protocol.farewell(session, 'server-shutdown')
      session.end('server shutdown')
    }
    await within(this.allClosed(), deadline * 0.4)
    for (const session of this.sessions.values()) session.destroy('shutdown deadline passed')
    // Nobody is left to answer: what is still in the logic stage gets the last tenth, then the pool goes.
    await within(this.pipeline.whenIdle(), deadline * 0.1)
    // A cluster's LEFT entries, so other nodes' members hear of it now rather than when this node's heartbeat expires.
    await within(this.chat.allLeft(), deadline * 0.1)
    await this.chat.close(deadline * 0.1)
    await Promise.all(unbound)
    this.pipeline.close()
    await this.executor.close()
    this.sampler.close()
  }

  private allClosed(): Promise<void> {
    if (this.sessions.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.whenEmpty.push(resolve))
  }

  private listen(spec: ListenerConfig): Promise<void> {
    const codec = getCodec(spec.codec)
    // Half-open: a peer that sends its last lines and then FIN still gets the answers to them.
    const server = createServer({ noDelay: true, allowHalfOpen: true })
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      // Node's default backlog (511) overflowed here under a mere 64 concurrent connects, and each overflow
      // costs the client a 1 s SYN retransmit; the kernel caps this at net.core.somaxconn anyway.
      server.listen({ port: spec.port, host: spec.host, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject)
        const address = server.address()
        const port = typeof address === 'object' && address ? address.port : spec.port
        const bound: BoundListener = { ...spec, port, name: listenerName(spec, port) }
        const protocol = spec.codec === 'asio' ? new AsioRelay() : this.door
        const listener: Listener = { spec: bound, codec, server, protocol }
        this.endpoints.set(bound.name, listener)
        if (spec.tls && this.tls) {
          const handshake = this.tls.listener({
            secured: (socket) => this.accept(listener, socket),
            failed: (from, why) => this.log('refuse', `TLS handshake from ${from} on ${bound.name} failed: ${why}`)
          })
          server.on('connection', handshake)
        } else server.on('connection', (socket) => this.accept(listener, socket))
        server.on('error', (error) => this.log('error', `${bound.name}: ${error.message}`))
        this.log('listen', `listening on ${spec.host}:${port} (${spec.tls ? `${spec.codec} over TLS` : spec.codec})`)
        resolve()
      })
    })
  }

  // No stopping check here: stop() closes the listeners first, so a connection that arrives then is refused
  // by the kernel (ECONNREFUSED) and never gets this far.
  private accept(listener: Listener, socket: Socket): void {
    if (this.sessions.size >= this.options.maxSessions) {
      const why = `server is full (${this.options.maxSessions} sessions)`
      this.log('refuse', `refused ${socket.remoteAddress}:${socket.remotePort}: ${why}`)
      socket.on('error', () => {})
      // Both framings carry this one: it is all a refused peer ever gets, so an asio peer gets it as a body.
      socket.end(listener.codec.encode(reply.err('server-full', why)))
      setTimeout(() => socket.destroy(), 1000).unref()
      return
    }
    const session = new Session(this.nextId++, socket, listener.spec.name, listener.codec, this, this.limits)
    this.sessions.set(session.id, session)
    this.log('connect', `session ${session.id} connected from ${session.remote} on ${listener.spec.name}`, session.id)
    listener.protocol.join(session)
  }

  private listenerOf(session: Session): Listener {
    return this.endpoints.get(session.listener)!
  }

  // SessionHost: called by sessions on the I/O thread.

  onFrame(session: Session, frame: Buffer): boolean {
    const listener = this.listenerOf(session)
    if (listener.protocol.ignores(frame)) return true
    if (!this.gate.admit(session)) return false
    const verdict = session.flood === null ? 'pass' : session.flood.take()
    if (verdict !== 'pass') {
      this.gate.release(session)
      return this.overRate(session, verdict)
    }
    this.pipeline.push({ session, listener, frame, parse: listener.protocol.parses, arrivedAt: performance.now() })
    return true
  }

  /** A message over the session's rate is dropped (and counted by its FloodControl); false stops its reading for good. */
  private overRate(session: Session, verdict: Exclude<RateVerdict, 'pass'>): boolean {
    const { maxRate } = this.options
    if (verdict === 'drop-and-tell') {
      this.pushMarker(session, { kind: 'refuse', code: 'rate-limited', detail: `over ${maxRate} messages/s: message dropped` })
    } else if (verdict === 'close') {
      this.pushMarker(session, { kind: 'broken', code: 'rate-limited', detail: `closing: more than ${maxRate} messages/s over the limit` })
      // "Not now", forever: the session reads nothing more until the marker closes it.
      return false
    }
    return true
  }

  onDecodeError(session: Session, code: DecodeErrorCode, detail: string): void {
    this.pushMarker(session, { kind: 'broken', code, detail })
  }

  onFinished(session: Session): void {
    this.pushMarker(session, { kind: 'finished', reason: 'closed by peer' })
  }

  onOutputChanged(_session: Session, delta: number): void {
    this.outputBytes += delta
    if (delta > 0 && !this.makingRoom && this.outputBytes > this.options.maxTotalOutputBytes) this.makeOutputRoom()
  }

  /**
   * The node may hold more output than it may. Sessions report as they flush, so what the kernel took since
   * is counted again first; if it is still over its cap, the sessions holding the most are dropped, largest
   * first, until it is back under it. They are the slowest readers; a broadcast frame queued for many is
   * counted for each, so the count is above what the node really holds, not below.
   */
  private makeOutputRoom(): void {
    const cap = this.options.maxTotalOutputBytes
    this.makingRoom = true
    try {
      for (const session of this.sessions.values()) session.reportOutput()
      if (this.outputBytes <= cap) return
      // Closing sessions too: one lingering over its last output holds memory like any other.
      const largest = [...this.sessions.values()].sort((a, b) => b.queuedBytes - a.queuedBytes)
      for (const session of largest) {
        if (this.outputBytes <= cap || session.queuedBytes === 0) break
        session.destroy(`${SLOW_CONSUMER}: the server's output memory cap (${cap} bytes) was reached, and this session held the most (${session.queuedBytes} bytes)`)
      }
    } finally {
      this.makingRoom = false
    }
  }

  onClosed(session: Session, reason: string): void {
    this.dirty.delete(session)
    this.lazyDirty.delete(session)
    this.gate.forget(session)
    this.pushMarker(session, { kind: 'closed', reason })
  }

  /** Markers go through the pipeline too, so what a session sent before is answered first. */
  private pushMarker(session: Session, marker: Marker): void {
    if (marker.kind !== 'refuse') session.endQueued = true
    this.pipeline.push({ session, listener: this.listenerOf(session), frame: null, parse: false, arrivedAt: performance.now(), marker })
  }

  /**
   * Closes the sessions that ran into a timeout, what they sent before answered first; and drops those whose
   * output stayed over the soft limit for its grace though nothing new was queued for them.
   */
  private sweep(): void {
    const now = performance.now()
    for (const session of this.sessions.values()) {
      if (!session.applyOutputLimits()) continue
      const code = session.overdue(now)
      if (code === null) continue
      session.pauseReading()
      const detail =
        code === 'idle-timeout'
          ? `no complete message in ${this.options.idleTimeoutMs / 1000}s`
          : `a message left incomplete for ${this.options.partialTimeoutMs / 1000}s`
      this.pushMarker(session, { kind: 'broken', code, detail })
    }
  }

  scheduleFlush(session: Session, when: FlushWhen): void {
    if (when === 'lazy') {
      this.lazyDirty.add(session)
      this.lazyFlushTimer ??= setTimeout(this.flushLazy, LAZY_FLUSH_MS)
      return
    }
    this.dirty.add(session)
    if (this.flushScheduled) return
    this.flushScheduled = true
    // One write per session per turn, however many frames the turn's commits queued for it.
    setImmediate(this.flushDirty)
  }

  private readonly flushDirty = (): void => {
    this.flushScheduled = false
    for (const session of this.dirty) session.flush()
    this.dirty.clear()
  }

  private readonly flushLazy = (): void => {
    this.lazyFlushTimer = null
    for (const session of this.lazyDirty) session.flush()
    this.lazyDirty.clear()
  }

  private commit(entry: Entry, command: Command | null): void {
    const { session, listener } = entry
    this.sampler.recordLogicLatency(performance.now() - entry.arrivedAt)
    if (entry.marker) return this.commitMarker(session, listener, entry.marker)
    // A session the server is ending (QUIT, kicked, a limit, dropped as slow) had its say: what it sent after is not committed.
    const applying = session.heard ? listener.protocol.commit(session, entry.frame!, command) : undefined
    // A command still being applied (in a cluster: waiting on Redis) keeps its place in the session's share of the queue.
    if (!applying) return this.gate.release(session)
    const before = this.applying.get(session)
    const all = before ? Promise.all([before, applying]) : applying
    this.applying.set(session, all)
    void applying.then(() => this.gate.release(session))
    void all.then(() => {
      if (this.applying.get(session) === all) this.applying.delete(session)
    })
  }

  private commitMarker(session: Session, listener: Listener, marker: Marker, waited = false): void {
    const pending = waited ? undefined : this.applying.get(session)
    if (pending && (marker.kind === 'broken' || marker.kind === 'finished')) {
      // Not for ever: a Redis that does not answer must not keep a broken stream open.
      void within(pending, this.options.shutdownDeadlineMs).then(() => this.commitMarker(session, listener, marker, true))
      return
    }
    switch (marker.kind) {
      case 'refuse':
        return listener.protocol.refuse(session, marker.code, marker.detail)
      case 'broken':
        if (marker.code === 'idle-timeout' || marker.code === 'partial-timeout' || marker.code === 'rate-limited') this.limitEnds[marker.code]++
        this.log(LIMIT_CODES.has(marker.code) ? 'limit' : 'error', `session ${session.id}: ${marker.code}: ${marker.detail}`, session.id)
        listener.protocol.refuse(session, marker.code, marker.detail)
        return session.end(`${marker.code}: ${marker.detail}`)
      case 'finished':
        return session.end(marker.reason)
      case 'closed':
        if (!this.sessions.delete(session.id)) return
        addCounters(this.retired, session)
        if (marker.reason.startsWith(SLOW_CONSUMER)) this.recordSlowDrop(session, marker.reason)
        listener.protocol.leave(session)
        this.log('disconnect', `session ${session.id} disconnected: ${marker.reason}`, session.id)
        if (this.sessions.size === 0) this.whenEmpty.splice(0).forEach((resolve) => resolve())
    }
  }

  /** Counted, and kept among the last few for the control room's list of who was dropped as slow and why. */
  private recordSlowDrop(session: Session, reason: string): void {
    this.limitEnds['slow-consumer']++
    const { nick } = this.describe(session)
    this.slowDrops.push({ at: Date.now(), id: session.id, nick, remote: session.remote, listener: session.listener, reason })
    if (this.slowDrops.length > SLOW_DROPS_KEPT) this.slowDrops.shift()
  }

  private log(kind: LogKind, text: string, sessionId?: number): void {
    this.emit('log', { at: Date.now(), kind, sessionId, text })
  }
}
