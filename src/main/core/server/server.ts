import { EventEmitter } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'
import { getCodec, type Codec, type DecodeErrorCode } from '../codec'
import { createInlineExecutor, createPoolExecutor, type LogicExecutor } from '../logic/executor'
import { LogicPipeline, type PipelineEntry } from '../logic/pipeline'
import { calibrateSpin } from '../logic/work'
import { MetricsSampler } from '../metrics/sampler'
import type { LogEvent, LogKind, MetricsSnapshot } from '../../../shared/telemetry'
import type { Command } from '../protocol/commands'
import { reply } from '../protocol/replies'
import { AsioRelay } from './asio-relay'
import { LineChat } from './line-chat'
import { DEFAULTS, type ListenerSpec, type ServerOptions } from './options'
import { Session, type SessionHost, type SessionLimits } from './session'

export interface BoundListener extends ListenerSpec {
  /** `codec:port` as bound: the name sessions and metrics use. */
  name: string
}

interface Listener {
  spec: BoundListener
  codec: Codec
  server: Server
  /** The asio listener's single room; line listeners share the server's LineChat. */
  relay: AsioRelay | null
}

/**
 * What a marker in the logic queue says about its session, in order with its frames:
 * - finished: the peer sent all it will send (it half-closed); answer what came before, then close;
 * - broken: its framing broke; answer what came before, say why (line peers read an ERR), then close;
 * - closed: the connection is gone; leave its room and forget it.
 */
type SessionEnd =
  | { kind: 'finished' | 'closed'; reason: string }
  | { kind: 'broken'; reason: string; code: DecodeErrorCode; detail: string }

/** A frame on its way through the logic stage, or a marker about its session's end. */
interface Entry extends PipelineEntry {
  session: Session
  listener: Listener
  arrivedAt: number
  end?: SessionEnd
}

export interface ServerEvents {
  log: [LogEvent]
  metrics: [MetricsSnapshot]
}

/** Connections the kernel may hold for us before we accept them. */
const LISTEN_BACKLOG = 4096

type Counters = Pick<Session, 'msgsIn' | 'msgsOut' | 'bytesIn' | 'bytesOut'>

function addCounters(into: Counters, from: Counters): void {
  into.msgsIn += from.msgsIn
  into.msgsOut += from.msgsOut
  into.bytesIn += from.bytesIn
  into.bytesOut += from.bytesOut
}

/**
 * The chat server: listeners, sessions and chat state on the I/O thread; the logic step in a
 * worker pool behind an ordered pipeline. Runs in plain Node; it knows nothing of Electron.
 */
export class ChatServer extends EventEmitter<ServerEvents> implements SessionHost {
  readonly options: ServerOptions
  private readonly endpoints = new Map<string, Listener>()
  private readonly sessions = new Map<number, Session>()
  private readonly chat = new LineChat()
  private readonly executor: LogicExecutor
  private readonly pipeline: LogicPipeline<Entry>
  private readonly sampler = new MetricsSampler()
  private readonly dirty = new Set<Session>()
  private readonly limits: SessionLimits
  private flushScheduled = false
  private readingPaused = false
  /** What the log last said of reading, and how often it changed since. */
  private pressureLogged = false
  private pressureChanges = 0
  private pressureLogTimer: NodeJS.Timeout | null = null
  private stopping: Promise<void> | null = null
  /** Resolved when the last session is gone (see allClosed). */
  private readonly whenEmpty: (() => void)[] = []
  private metricsTimer: NodeJS.Timeout | null = null
  private nextId = 1
  /** Counters of sessions that are gone; live sessions keep their own. */
  private readonly retired: Counters = { msgsIn: 0, msgsOut: 0, bytesIn: 0, bytesOut: 0 }

  constructor(options: Partial<ServerOptions> & Pick<ServerOptions, 'listeners'>) {
    super()
    this.options = { ...DEFAULTS, ...options }
    const { workers, workerFile, workUs } = this.options
    if (workers > 0 && !workerFile) throw new Error('workerFile is required when workers > 0')
    const onWorkerError = (error: unknown) => this.log('error', `logic worker failed: ${String(error)}`)
    this.executor = workers > 0 ? createPoolExecutor(workers, workerFile!, onWorkerError) : createInlineExecutor()
    this.limits = {
      maxPayload: this.options.maxLineBytes,
      maxOutputBytes: this.options.maxOutputBytes,
      lingerMs: this.options.shutdownDeadlineMs
    }
    this.pipeline = new LogicPipeline<Entry>(this.executor, {
      commit: (entry, command) => this.commit(entry, command),
      onPressure: (paused) => this.setReading(!paused),
      onExecutorError: (error) => this.log('error', `logic worker failed, batch redone inline: ${String(error)}`),
      maxBatch: this.options.maxBatch,
      maxInFlight: Math.max(2, workers * 2),
      highWater: this.options.logicHighWater,
      lowWater: Math.floor(this.options.logicHighWater / 2),
      spinIterations: workUs > 0 ? Math.round(workUs * calibrateSpin()) : 0
    })
  }

  /** Binds every listener (port 0 picks a free one) and starts emitting metrics. */
  async start(): Promise<BoundListener[]> {
    try {
      for (const spec of this.options.listeners) await this.listen(spec)
    } catch (error) {
      await this.stop()
      throw error
    }
    this.metricsTimer = setInterval(() => this.emit('metrics', this.snapshot()), this.options.metricsIntervalMs)
    this.metricsTimer.unref()
    return this.addresses
  }

  get addresses(): BoundListener[] {
    return [...this.endpoints.values()].map((listener) => listener.spec)
  }

  snapshot(): MetricsSnapshot {
    const sessions = [...this.sessions.values()].map((session) => session.metrics())
    const totals = { ...this.retired }
    for (const session of sessions) addCounters(totals, session)
    return this.sampler.sample({
      ...totals,
      sessions,
      logicQueueDepth: this.pipeline.depth,
      batchesInFlight: this.pipeline.batchesInFlight,
      readingPaused: this.readingPaused,
      poolThreads: this.executor.threads,
      logicBusyMs: this.pipeline.busyMs
    })
  }

  kick(sessionId: number, reason = 'kicked'): boolean {
    const session = this.sessions.get(sessionId)
    if (!session?.open) return false
    this.log('kick', `session ${sessionId} kicked: ${reason}`, sessionId)
    if (session.codec.name === 'line') session.send(session.codec.encode(reply.bye(`kicked ${reason}`)))
    session.end(`kicked: ${reason}`)
    return true
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
    if (this.pressureLogTimer) clearTimeout(this.pressureLogTimer)
    // close() stops accepting now; its callback waits for the sessions, which are ended below.
    const unbound = [...this.endpoints.values()].map(({ server }) => new Promise((resolve) => server.close(resolve)))
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, this.options.shutdownDeadlineMs).unref())
    if (this.sessions.size > 0) this.log('shutdown', `stopping: ${this.sessions.size} sessions to close`)
    for (const session of this.sessions.values()) session.setReading(false)
    await Promise.race([this.pipeline.whenIdle(), deadline])
    for (const session of this.sessions.values()) {
      if (session.codec.name === 'line') session.send(session.codec.encode(reply.bye('server-shutdown')))
      session.end('server shutdown')
    }
    await Promise.race([this.allClosed(), deadline])
    for (const session of this.sessions.values()) session.destroy('shutdown deadline passed')
    // Nobody is left to answer: what is still in the logic stage is only waited for until the deadline.
    await Promise.race([this.pipeline.whenIdle(), deadline])
    await Promise.all(unbound)
    await this.executor.close()
    this.sampler.close()
  }

  private allClosed(): Promise<void> {
    if (this.sessions.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.whenEmpty.push(resolve))
  }

  private listen(spec: ListenerSpec): Promise<void> {
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
        const bound: BoundListener = { ...spec, port, name: `${spec.codec}:${port}` }
        const listener: Listener = { spec: bound, codec, server, relay: spec.codec === 'asio' ? new AsioRelay() : null }
        this.endpoints.set(bound.name, listener)
        server.on('connection', (socket) => this.accept(listener, socket))
        server.on('error', (error) => this.log('error', `${bound.name}: ${error.message}`))
        this.log('listen', `listening on ${spec.host}:${port} (${spec.codec})`)
        resolve()
      })
    })
  }

  private accept(listener: Listener, socket: Socket): void {
    if (this.stopping || this.sessions.size >= this.options.maxSessions) {
      const why = this.stopping ? 'server is shutting down' : `server is full (${this.options.maxSessions} sessions)`
      this.log('refuse', `refused ${socket.remoteAddress}:${socket.remotePort}: ${why}`)
      socket.on('error', () => {})
      socket.end(listener.codec.encode(reply.err(this.stopping ? 'shutting-down' : 'server-full', why)))
      setTimeout(() => socket.destroy(), 1000).unref()
      return
    }
    const session = new Session(this.nextId++, socket, listener.spec.name, listener.codec, this, this.limits)
    this.sessions.set(session.id, session)
    this.log('connect', `session ${session.id} connected from ${session.remote} on ${listener.spec.name}`, session.id)
    if (this.readingPaused) session.setReading(false)
    if (listener.relay) listener.relay.join(session)
    else this.chat.connect(session)
  }

  private listenerOf(session: Session): Listener {
    return this.endpoints.get(session.listener)!
  }

  // SessionHost: called by sessions on the I/O thread.

  onFrame(session: Session, frame: Buffer): boolean {
    const listener = this.listenerOf(session)
    // An empty line means nothing; letting it in would make a stream of newlines a queue entry per byte.
    if (frame.length === 0 && listener.relay === null) return true
    this.pipeline.push({ session, listener, frame, parse: listener.relay === null, arrivedAt: performance.now() })
    return !this.readingPaused
  }

  onDecodeError(session: Session, code: DecodeErrorCode, detail: string): void {
    this.pushEnd(session, { kind: 'broken', reason: `${code}: ${detail}`, code, detail })
  }

  onFinished(session: Session): void {
    this.pushEnd(session, { kind: 'finished', reason: 'closed by peer' })
  }

  onClosed(session: Session, reason: string): void {
    this.dirty.delete(session)
    this.pushEnd(session, { kind: 'closed', reason })
  }

  /** Ends go through the pipeline too, so a session's last messages are committed before its end. */
  private pushEnd(session: Session, end: SessionEnd): void {
    this.pipeline.push({ session, listener: this.listenerOf(session), frame: null, parse: false, arrivedAt: performance.now(), end })
  }

  scheduleFlush(session: Session): void {
    this.dirty.add(session)
    if (this.flushScheduled) return
    this.flushScheduled = true
    // One write per session per turn, however many frames the turn's commits queued for it.
    setImmediate(() => {
      this.flushScheduled = false
      for (const session of this.dirty) session.flush()
      this.dirty.clear()
    })
  }

  private commit(entry: Entry, command: Command | null): void {
    const { session, listener } = entry
    this.sampler.recordLogicLatency(performance.now() - entry.arrivedAt)
    if (entry.end) return this.commitEnd(entry.session, listener, entry.end)
    // A session that is ending (QUIT, kicked, dropped as slow) had its say: what it sent after is not committed.
    if (!session.open) return
    if (listener.relay) listener.relay.relay(entry.frame!)
    else if (command) this.chat.apply(session, command)
  }

  private commitEnd(session: Session, listener: Listener, end: SessionEnd): void {
    if (end.kind === 'broken') {
      this.log('error', `session ${session.id}: ${end.reason}`, session.id)
      if (listener.relay === null) session.send(session.codec.encode(reply.err(end.code, end.detail)))
    }
    if (end.kind !== 'closed') return session.end(end.reason)
    if (!this.sessions.delete(session.id)) return
    addCounters(this.retired, session)
    if (listener.relay) listener.relay.leave(session)
    else this.chat.disconnect(session)
    this.log('disconnect', `session ${session.id} disconnected: ${end.reason}`, session.id)
    if (this.sessions.size === 0) this.whenEmpty.splice(0).forEach((resolve) => resolve())
  }

  private setReading(reading: boolean): void {
    // Once stopping, nothing more is read, whatever the queue does.
    if (this.stopping && reading) return
    this.readingPaused = !reading
    this.pressureChanges++
    this.logPressure()
    for (const session of this.sessions.values()) {
      // Resuming a session decodes what it held back, which can fill the queue again: then the nested
      // pause has already reached every session, and resuming the rest would undo it.
      if (this.readingPaused === reading) break
      session.setReading(reading)
    }
  }

  /**
   * Under a flood reads pause and resume many times a second: the log says so at most once a second,
   * with how often, and always ends on the state reading is really in.
   */
  private logPressure(): void {
    if (this.pressureLogTimer || this.readingPaused === this.pressureLogged) return
    const often = this.pressureChanges > 1 ? ` (${this.pressureChanges} pauses and resumes since the last report)` : ''
    const what = this.readingPaused ? `logic queue past ${this.options.logicHighWater}: reading paused` : 'logic queue drained: reading resumed'
    this.log('pressure', `${what}${often}`)
    this.pressureLogged = this.readingPaused
    this.pressureChanges = 0
    this.pressureLogTimer = setTimeout(() => {
      this.pressureLogTimer = null
      this.logPressure()
    }, 1000)
    this.pressureLogTimer.unref()
  }

  private log(kind: LogKind, text: string, sessionId?: number): void {
    this.emit('log', { at: Date.now(), kind, sessionId, text })
  }
}
