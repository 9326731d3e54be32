import { randomInt } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { withoutPassword, type LoadConfig, type LoadPhase, type LoadProgress, type LoadReport, type StormReport } from '../../../shared/load'
import { clientsOfTarget, roomCount } from './config'
import { createHistogram, mergeEncoded, percentilesMs } from './histogram'
import { forkAgent, type AgentLauncher, type AgentProcess } from './agent-process'
import type { AgentCounters, FromAgent, ToAgent } from './messages'

export interface LoadRunOptions {
  /** The built agent entry (out/main/load-agent.js). */
  agentFile: string
  /** How agent processes are started: child_process.fork unless the host says otherwise (Electron). */
  launch?: AgentLauncher
  runId?: number
  progressMs?: number
  /**
   * The reconnect storm of a run with stormAfterMs, made by whoever owns the server (the traffic lab
   * restarts its own): resolves with what it did. Without it the agents cut their own connections.
   */
  restartServer?: () => Promise<string>
}

export interface LoadRunEvents {
  progress: [LoadProgress]
  report: [LoadReport]
}

/** How long agents get to hand in their final figures before they are killed. */
const FINAL_GRACE_MS = 5000
/**
 * Once a client is lost mid-run (kicked, dropped), what was owed to it never comes, and what it had in
 * flight may never have been committed: the expected count cannot be met. The drain then ends when
 * deliveries have stood still this long, not after the whole timeout.
 */
const LOST_CLIENT_QUIET_MS = 1000

interface Agent {
  process: AgentProcess
  counters: AgentCounters | null
  connected: boolean
  ready: number[] | null
  final: Extract<FromAgent, { type: 'final' }> | null
  exited: boolean
}

const sum = (agents: Agent[], pick: (c: AgentCounters) => number) => agents.reduce((total, a) => total + (a.counters ? pick(a.counters) : 0), 0)

/**
 * One traffic-lab run: forks the agents, spreads the clients over them, holds the barrier (every
 * client of every agent in its room before anyone sends), ends sending after the message count or
 * the duration, waits for the last deliveries, and merges what the agents measured into one report.
 */
export class LoadRun extends EventEmitter<LoadRunEvents> {
  readonly runId: number
  readonly done: Promise<LoadReport>
  private readonly agents: Agent[] = []
  private readonly startedAt = Date.now()
  private phase: LoadPhase = 'connecting'
  private phaseTimer: NodeJS.Timeout | null = null
  private progressTimer: NodeJS.Timeout
  private readonly runLatency = createHistogram()
  private intervalLatency = createHistogram()
  private lastSample = { at: performance.now(), sent: 0, deliveries: 0 }
  /** When sends or deliveries last moved: a run where nothing moves for timeoutMs has stalled. */
  private lastMovedAt = performance.now()
  private notes: string[] = []
  private stormTimer: NodeJS.Timeout | null = null
  /** The storm made, in words; null if none yet. */
  private stormMade: string | null = null
  private finishing = false
  private noClientInRoom = false
  private resolve!: (report: LoadReport) => void

  constructor(
    readonly config: LoadConfig,
    private readonly options: LoadRunOptions
  ) {
    super()
    this.runId = options.runId ?? 1
    this.done = new Promise((resolve) => (this.resolve = resolve))
    const nonce = randomInt(2 ** 32)
    const base = Math.floor(config.clients / config.agents)
    let first = 0
    for (let i = 0; i < config.agents; i++) {
      const count = base + (i < config.clients % config.agents ? 1 : 0)
      // The events come later, never from within launch(): `agent` is set by then.
      const process = (options.launch ?? forkAgent)(options.agentFile, {
        message: (message) => this.onMessage(agent, message),
        exit: (how) => this.onExit(agent, how),
        error: (error) => this.abort(`a load agent failed: ${error.message}`)
      })
      const agent: Agent = { process, counters: null, connected: false, ready: null, final: null, exited: false }
      this.agents.push(agent)
      this.send(agent, { type: 'start', config, first, count, nonce })
      first += count
    }
    this.progressTimer = setInterval(() => this.emit('progress', this.progress()), options.progressMs ?? 250)
    this.setPhase('connecting', config.timeoutMs, 'connections')
  }

  /** Stops sending now; what was sent still counts and is waited for. Before sending starts, ends the run. */
  stop(): void {
    if (this.phase === 'sending') {
      this.notes.push('stopped before the end')
      this.stopSending()
    } else if (this.phase !== 'draining') {
      this.abort('stopped before sending started')
    }
  }

  private send(agent: Agent, message: ToAgent): void {
    if (!agent.exited) agent.process.send(message)
  }

  private broadcast(message: ToAgent): void {
    for (const agent of this.agents) this.send(agent, message)
  }

  /** Moves to a phase that must be over within `limitMs`, or the run ends with a note. */
  private setPhase(phase: LoadPhase, limitMs: number, what: string): void {
    this.phase = phase
    if (this.phaseTimer) clearTimeout(this.phaseTimer)
    this.phaseTimer = limitMs > 0 ? setTimeout(() => this.abort(`${what} took longer than ${limitMs}ms`), limitMs) : null
  }

  private onMessage(agent: Agent, message: FromAgent): void {
    switch (message.type) {
      case 'connected':
        agent.connected = true
        if (this.agents.every((a) => a.connected)) {
          // asio greets nobody: one barrier body, relayed to all, tells each client it is in the room.
          if (this.config.codec === 'asio') this.send(this.agents[0], { type: 'sync' })
          this.setPhase('joining', this.config.timeoutMs, 'joining the rooms')
        }
        return
      case 'ready':
        agent.ready = message.members
        if (this.agents.every((a) => a.ready)) this.go()
        return
      case 'progress':
        agent.counters = message.counters
        mergeEncoded(this.runLatency, message.latency)
        mergeEncoded(this.intervalLatency, message.latency)
        return this.check()
      case 'final':
        agent.final = message
        agent.counters = message.counters
        agent.process.release()
        if (this.agents.every((a) => a.final || a.exited)) this.report()
        return
    }
  }

  private go(): void {
    const members = new Array<number>(roomCount(this.config)).fill(0)
    for (const agent of this.agents) agent.ready!.forEach((n, room) => (members[room] += n))
    if (members.every((n) => n === 0)) {
      // Said in the report, with the reasons the agents hand in with their final figures.
      this.noClientInRoom = true
      return this.finish()
    }
    this.setPhase('sending', 0, 'sending')
    this.lastMovedAt = performance.now()
    this.broadcast({ type: 'go', members })
    if (this.config.durationMs > 0) this.phaseTimer = setTimeout(() => this.stopSending(), this.config.durationMs)
    if (this.config.stormAfterMs > 0) this.stormTimer = setTimeout(() => void this.storm(), this.config.stormAfterMs)
  }

  /** The reconnect storm: the server restarted by its owner, or else every client's connection cut by its agent. */
  private async storm(): Promise<void> {
    this.stormTimer = null
    if (this.finishing) return
    if (!this.options.restartServer) {
      this.broadcast({ type: 'storm' })
      this.stormMade = 'every connection cut at once'
      return
    }
    this.stormMade = 'restarting the server'
    try {
      this.stormMade = await this.options.restartServer()
    } catch (error) {
      this.stormMade = `restarting the server failed: ${(error as Error).message}`
      this.notes.push(this.stormMade)
    }
  }

  private stopSending(): void {
    this.broadcast({ type: 'stop' })
    this.drain()
  }

  private drain(): void {
    if (this.phase === 'draining') return
    this.setPhase('draining', this.config.timeoutMs, 'waiting for the last deliveries')
    // The quiet that ends a drain with a lost client is counted from here, not from the last send.
    this.lastMovedAt = performance.now()
  }

  /** Whenever figures come in: has every agent finished sending, and has every delivery arrived? */
  private check(): void {
    if (this.phase === 'sending' && this.agents.every((a) => a.counters?.sendingDone)) this.drain()
    if (this.phase !== 'draining' || !this.agents.every((a) => a.counters?.sendingDone)) return
    if (sum(this.agents, (c) => c.deliveries) >= sum(this.agents, (c) => c.expected)) this.finish()
  }

  /** Ends the run now, whatever its phase, with a note why; it still reports what it measured. */
  abort(note: string): void {
    this.notes.push(note)
    this.finish()
  }

  private finish(): void {
    if (this.finishing) return
    this.finishing = true
    if (this.phaseTimer) clearTimeout(this.phaseTimer)
    if (this.stormTimer) clearTimeout(this.stormTimer)
    this.broadcast({ type: 'finish' })
    setTimeout(() => {
      for (const agent of this.agents) if (!agent.exited) agent.process.kill()
    }, FINAL_GRACE_MS).unref()
    if (this.agents.every((a) => a.exited)) this.report()
  }

  private onExit(agent: Agent, how: string): void {
    agent.exited = true
    if (!agent.final) {
      if (!this.finishing) this.abort(`a load agent exited (${how}) before the run ended`)
      else if (this.agents.every((a) => a.final || a.exited)) this.report()
    }
  }

  private progress(): LoadProgress {
    const at = performance.now()
    const sent = sum(this.agents, (c) => c.sent)
    const deliveries = sum(this.agents, (c) => c.deliveries)
    if (sent !== this.lastSample.sent || deliveries !== this.lastSample.deliveries) this.lastMovedAt = at
    // A closed loop against a server that loses messages would wait for their echoes for ever.
    if (this.phase === 'sending' && at - this.lastMovedAt > this.config.timeoutMs) {
      this.abort(`stalled: nothing was sent or delivered for ${this.config.timeoutMs}ms`)
    }
    // Resuming clients still on their way back are waited for (up to the drain's timeout).
    const noneOnTheWayBack = sum(this.agents, (c) => c.offline) === 0
    if (this.phase === 'draining' && at - this.lastMovedAt > LOST_CLIENT_QUIET_MS && sum(this.agents, (c) => c.lostWhileSending) > 0 && noneOnTheWayBack) this.finish()
    const seconds = Math.max((at - this.lastSample.at) / 1000, 1e-3)
    const hasInterval = this.intervalLatency.totalCount > 0
    const progress: LoadProgress = {
      runId: this.runId,
      elapsedMs: Date.now() - this.startedAt,
      phase: this.phase,
      open: sum(this.agents, (c) => c.open),
      sent,
      deliveries,
      expected: sum(this.agents, (c) => c.expected),
      sentPerSec: Math.round((sent - this.lastSample.sent) / seconds),
      deliveriesPerSec: Math.round((deliveries - this.lastSample.deliveries) / seconds),
      p99Ms: hasInterval ? this.intervalLatency.getValueAtPercentile(99) / 1000 : null,
      p99SoFarMs: this.runLatency.totalCount > 0 ? this.runLatency.getValueAtPercentile(99) / 1000 : null,
      errors: sum(this.agents, (c) => c.connectErrors + c.disconnects + c.protocolErrors)
    }
    this.lastSample = { at, sent, deliveries }
    this.intervalLatency = createHistogram()
    return progress
  }

  /** A counter summed over the agents. */
  private total(pick: (c: AgentCounters) => number): number {
    return sum(this.agents, pick)
  }

  private stormReport(recover: ReturnType<typeof createHistogram>): StormReport {
    return {
      made: this.stormMade,
      lost: this.total((c) => c.disconnects),
      resumed: this.total((c) => c.resumed),
      unresumed: this.total((c) => c.offline),
      recovered: this.total((c) => c.recovered),
      gaps: this.total((c) => c.gaps),
      duplicates: this.total((c) => c.duplicates),
      lostInFlight: this.total((c) => c.lostInFlight),
      recoverMs: percentilesMs(recover)
    }
  }

  private report(): void {
    if (this.phase === 'done') return
    clearInterval(this.progressTimer)
    this.emit('progress', { ...this.progress(), phase: 'done' })
    this.phase = 'done'
    const latency = createHistogram()
    const connect = createHistogram()
    const recover = createHistogram()
    const handshake = createHistogram()
    const errors: Record<string, number> = {}
    const digests = new Map<number, Set<number>>()
    for (const agent of this.agents) {
      if (!agent.final) continue
      mergeEncoded(latency, agent.final.latency)
      mergeEncoded(connect, agent.final.connect)
      mergeEncoded(recover, agent.final.recover)
      mergeEncoded(handshake, agent.final.handshake)
      for (const [reason, n] of Object.entries(agent.final.errors)) errors[reason] = (errors[reason] ?? 0) + n
      for (const [room, digest] of agent.final.orders) {
        if (!digests.has(room)) digests.set(room, new Set())
        digests.get(room)!.add(digest)
      }
    }
    const order = { rooms: digests.size, split: [...digests.values()].filter((seen) => seen.size > 1).length }
    const targets = this.config.targets.map((target, t) => {
      const tally = { ...target, clients: clientsOfTarget(this.config, t), connected: 0, deliveries: 0 }
      for (const agent of this.agents) {
        tally.connected += agent.final?.targets[t].connected ?? 0
        tally.deliveries += agent.final?.targets[t].deliveries ?? 0
      }
      return tally
    })
    const deliveries = this.total((c) => c.deliveries)
    const expected = this.total((c) => c.expected)
    const firstSend = Math.min(...this.agents.map((a) => a.counters?.firstSendAt || Infinity))
    const lastDelivery = Math.max(...this.agents.map((a) => a.counters?.lastDeliveryAt ?? 0))
    const durationMs = Number.isFinite(firstSend) && lastDelivery > firstSend ? lastDelivery - firstSend : 0
    const perSec = (n: number) => (durationMs > 0 ? Math.round((n * 1000) / durationMs) : 0)
    const connectErrors = this.total((c) => c.connectErrors)
    const disconnects = this.total((c) => c.disconnects)
    const protocolErrors = this.total((c) => c.protocolErrors)
    if (this.noClientInRoom) {
      const reasons = Object.keys(errors).map((reason) => reason.replace(/^connect: /, ''))
      const what = connectErrors === this.config.clients ? 'no client could connect' : 'no client got into its room'
      this.notes.unshift(reasons.length > 0 ? `${what} (${reasons.slice(0, 3).join('; ')})` : what)
    }
    const storm = this.config.resume ? this.stormReport(recover) : null
    const lostClients = this.total((c) => c.lostWhileSending)
    const lost = lostClients > 0 ? `: ${lostClients} client${lostClients > 1 ? 's were' : ' was'} disconnected during the run` : ''
    if (deliveries < expected) this.notes.push(`${expected - deliveries} of ${expected} deliveries never arrived${lost}`)
    // With deliveries missing, members may differ by what they got, not by its order: that is said above.
    else if (order.split > 0) this.notes.push(`in ${order.split} of ${order.rooms} rooms, members saw messages in different orders`)
    if (storm) this.notes.push(...stormNotes(storm))
    // Resuming clients may lose their connections: that they all came back is what counts.
    const dropped = storm ? 0 : disconnects
    const complete = this.notes.length === 0 && expected > 0 && connectErrors + dropped + protocolErrors === 0
    const report: LoadReport = {
      runId: this.runId,
      config: withoutPassword(this.config),
      startedAt: this.startedAt,
      complete,
      expected,
      deliveries,
      shortfall: Math.max(0, expected - deliveries),
      sent: this.total((c) => c.sent),
      durationMs: Math.round(durationMs * 1000) / 1000,
      deliveriesPerSec: perSec(deliveries),
      messagesPerSec: perSec(this.total((c) => c.echoed)),
      bytesInPerSec: perSec(this.total((c) => c.bytesIn)),
      bytesOutPerSec: perSec(this.total((c) => c.bytesOut)),
      latencyMs: percentilesMs(latency),
      connectMs: percentilesMs(connect),
      handshakeMs: this.config.tls ? percentilesMs(handshake) : null,
      connectErrors,
      disconnects,
      errors,
      protocolErrors,
      order,
      targets,
      agentCpu: this.agents.map((a) => a.final?.cpu ?? 0),
      storm,
      ...(this.notes.length > 0 ? { note: this.notes.join('; ') } : {})
    }
    this.emit('report', report)
    this.resolve(report)
  }
}

/** What in a storm keeps a run from being complete: clients not back, messages twice, gaps. */
function stormNotes({ unresumed, duplicates, gaps }: StormReport): string[] {
  const notes: string[] = []
  if (unresumed > 0) notes.push(`${unresumed} client${unresumed > 1 ? 's were' : ' was'} not back in its room when the run ended`)
  if (duplicates > 0) notes.push(`${duplicates} message${duplicates > 1 ? 's were' : ' was'} delivered twice`)
  if (gaps > 0) notes.push(`${gaps} client${gaps > 1 ? 's' : ''} resumed past a history gap (the server no longer kept what they missed)`)
  return notes
}

/** Runs one load to its end and resolves with the report. */
export function runLoad(config: LoadConfig, options: LoadRunOptions, onProgress?: (progress: LoadProgress) => void): Promise<LoadReport> {
  const run = new LoadRun(config, options)
  if (onProgress) run.on('progress', onProgress)
  return run.done
}
