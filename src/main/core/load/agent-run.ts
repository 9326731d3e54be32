import { readFileSync } from 'node:fs'
import type { LoadConfig } from '../../../shared/load'
import { now } from './clock'
import { maxMessages, roomCount, roomOf } from './config'
import { Connection, type ConnectionEvents } from './connection'
import { createHistogram, recordMs, type Histogram } from './histogram'
import type { AgentCounters } from './messages'
import { SendSchedule, TICK_MS } from './schedule'
import { TagLayout, frameOf } from './wire'

/** Connections being set up at once when no connect rate is set (see admit()): quick, without overrunning the server. */
const CONNECT_PARALLEL = 64

/** How often line clients PING to stay clear of a server's idle timeout. */
const KEEPALIVE_MS = 60_000

/**
 * One agent process's share of a run: clients first .. first + count - 1. It connects them, waits for
 * each to be in its room, sends when told (closed or open loop), counts every delivery, and measures
 * each message from its send to its sender seeing it. It knows nothing of other agents: the
 * coordinator tells it when to sync, go, stop and finish.
 */
export class AgentRun {
  readonly counters: AgentCounters = {
    open: 0,
    sent: 0,
    deliveries: 0,
    echoed: 0,
    bytesIn: 0,
    bytesOut: 0,
    protocolErrors: 0,
    connectErrors: 0,
    disconnects: 0,
    lostWhileSending: 0,
    expected: 0,
    sendingDone: false,
    firstSendAt: 0,
    lastDeliveryAt: 0,
    resumed: 0,
    recovered: 0,
    gaps: 0,
    duplicates: 0,
    lostInFlight: 0,
    offline: 0
  }
  /** Latency since the last progress report; `total` keeps the whole run. */
  interval: Histogram = createHistogram()
  readonly total = createHistogram()
  readonly connectTimes = createHistogram()
  readonly handshakeTimes = createHistogram()
  readonly recoverTimes = createHistogram()
  readonly errors: Record<string, number> = {}
  readonly layout: TagLayout
  readonly sync: Buffer
  /** Messages a client may send: its count, or as many as the tag's sequence digits can number. */
  readonly maxSequence: number
  /** The CA a TLS run trusts, read once for all its connections. */
  readonly tlsCa: Buffer | undefined
  private readonly connections: Connection[] = []
  private readonly schedule: SendSchedule
  private members: number[] = []
  private sending = false
  private stopped = false
  /** Opens connections at the connect rate, while it runs. */
  private ramp: NodeJS.Timeout | null = null
  private keepAlive: NodeJS.Timeout | null = null
  private attempted = 0
  /** Connections whose setup is over: a line client in its room (or gone), an asio client connected (or failed). */
  private admitted = 0
  /** Clients that are in their room, or will never be (failed or closed first). */
  private settled = 0
  /** Clients that will send no more: all their messages sent, or their connection gone. */
  private finishedSenders = 0

  constructor(
    readonly config: LoadConfig,
    readonly first: number,
    readonly count: number,
    nonce: number,
    /** Called when every connection was tried, and when every connected client is in its room. */
    private readonly events: { connected(failed: number): void; ready(members: number[]): void }
  ) {
    this.maxSequence = maxMessages(config)
    this.tlsCa = config.tls?.ca ? readFileSync(config.tls.ca) : undefined
    this.layout = new TagLayout(config.clients, this.maxSequence, config.size)
    this.sync = this.layout.syncBody(nonce)
    this.schedule = new SendSchedule(config, this.connections)
  }

  /** What its connections report, turned into this run's counters, histograms and progress. */
  private readonly connectionEvents: ConnectionEvents = {
    connected: (connectMs) => {
      this.counters.open++
      recordMs(this.connectTimes, connectMs)
      this.attemptDone()
      if (this.config.codec === 'asio') this.admit()
    },
    connectFailed: (reason) => {
      this.counters.connectErrors++
      this.countError(`connect: ${reason}`)
      this.attemptDone()
      if (this.config.codec === 'asio') this.admit()
    },
    disconnected: (reason, comingBack) => {
      this.counters.open--
      this.counters.disconnects++
      if (this.sending) this.counters.lostWhileSending++
      // A resuming client comes back: until then it is offline.
      if (comingBack) this.counters.offline++
      this.countError(reason)
    },
    settled: () => {
      this.settled++
      if (this.config.codec === 'line') this.admit()
      this.checkReady()
    },
    doneSending: () => {
      this.finishedSenders++
      this.checkSendingDone()
    },
    wrote: (bytes) => {
      this.counters.bytesOut += bytes
    },
    read: (bytes) => {
      this.counters.bytesIn += bytes
    },
    sent: (connection, count) => {
      this.counters.sent += count
      this.counters.expected += count * (this.members[roomOf(this.config, connection.index)] ?? 0)
    },
    delivered: (at) => {
      this.counters.deliveries++
      this.counters.lastDeliveryAt = at
    },
    echoed: (latencyMs) => {
      this.counters.echoed++
      recordMs(this.interval, latencyMs)
      recordMs(this.total, latencyMs)
    },
    echoesRead: (connection) => this.schedule.echoed(connection),
    protocolError: () => {
      this.counters.protocolErrors++
    },
    handshaked: (handshakeMs) => {
      recordMs(this.handshakeTimes, handshakeMs)
    },
    reconnected: () => {
      this.counters.open++
    },
    droppedAgain: () => {
      this.counters.open--
    },
    resumed: (connection, recoverMs, gap, lostInFlight) => {
      this.counters.resumed++
      this.counters.offline--
      if (gap) this.counters.gaps++
      // Never accepted (or not kept): what they would have owed the room is not expected.
      this.counters.lostInFlight += lostInFlight
      this.counters.expected -= lostInFlight * (this.members[roomOf(this.config, connection.index)] ?? 0)
      recordMs(this.recoverTimes, recoverMs)
    },
    recovered: () => {
      this.counters.recovered++
    },
    duplicate: () => {
      this.counters.duplicates++
    }
  }

  private countError(reason: string): void {
    this.errors[reason] = (this.errors[reason] ?? 0) + 1
  }

  /** Opens the connections, as fast as allowed or at this agent's share of the connect rate. */
  connectAll(): void {
    // A slow ramp can keep early clients waiting longer than a server's idle timeout (300 s by default):
    // line clients PING now and then, and the PONG, like every PONG once in the room, changes nothing.
    if (this.config.codec === 'line') {
      const ping = Buffer.from('PING keepalive\n', 'latin1')
      this.keepAlive = setInterval(() => {
        for (const connection of this.connections) if (connection.isOpen) connection.write(ping)
      }, KEEPALIVE_MS)
    }
    const rate = this.config.connectRate / this.config.agents
    if (rate === 0) return this.connectWave()
    const startedAt = now()
    this.ramp = setInterval(() => {
      const due = Math.min(this.count, Math.floor(((now() - startedAt) * rate) / 1000) + 1)
      while (this.connections.length < due) this.open()
      if (this.connections.length >= this.count) this.stopRamp()
    }, TICK_MS)
  }

  private connectWave(): void {
    const end = Math.min(this.count, this.connections.length + CONNECT_PARALLEL)
    while (this.connections.length < end) this.open()
  }

  private open(): void {
    const index = this.first + this.connections.length
    this.connections.push(new Connection(index, this, this.connectionEvents))
  }

  /**
   * A connection's setup is over; the next wave starts when the whole wave is through. On loopback a
   * connect completes in the kernel before the server has accepted it, so counting only connects would
   * bound nothing: waves would outrun the server's accept queue (Node accepts one connection per turn)
   * and the overflow would show up as 1 s SYN retransmits. A line client is through once its PING came
   * back (the server greeted it and put it in its room); asio greets nobody, so there it is the connect.
   */
  private admit(): void {
    this.admitted++
    if (this.config.connectRate === 0 && this.admitted === this.connections.length) this.connectWave()
  }

  /** A connection attempt ended: connected or failed. */
  private attemptDone(): void {
    this.attempted++
    if (this.attempted === this.count) {
      this.events.connected(this.counters.connectErrors)
      this.checkReady()
    }
  }

  /** Ready once every connection was tried and each connected client is in its room (or gone). */
  private checkReady(): void {
    if (this.attempted < this.count || this.settled < this.count || this.sending) return
    const members = new Array<number>(roomCount(this.config)).fill(0)
    for (const c of this.connections) if (c.inRoom && !c.closed) members[roomOf(this.config, c.index)]++
    this.events.ready(members)
  }

  /** asio: the barrier body, from one client, reaches every participant (a late one through the history). */
  sendSync(): void {
    // From any client still connected: the first one may have been refused.
    this.connections.find((connection) => connection.isOpen)?.write(frameOf('asio', this.sync).frame)
  }

  go(members: number[]): void {
    this.members = members
    this.sending = true
    this.counters.firstSendAt = now()
    this.schedule.start(this.counters.firstSendAt)
  }

  stop(): void {
    this.halt()
    this.checkSendingDone()
  }

  /** The storm a load generator can make itself: every connection cut at once; each comes back and resumes. */
  storm(): void {
    for (const connection of this.connections) connection.cut()
  }

  /**
   * Per room, how many of this agent's clients in it ended with each order digest. A client lost mid-run
   * saw only the start of its room's order: compared, it would look like another order.
   */
  orders(): [room: number, digest: number, clients: number][] {
    const seen = new Map<string, [number, number, number]>()
    for (const c of this.connections) {
      // So did one that resumed past a gap, or is not back: their logs are not the room's whole order.
      if (!c.inRoom || c.lost || c.gapped || c.offline) continue
      const room = roomOf(this.config, c.index)
      const key = `${room}:${c.orderDigest}`
      const entry = seen.get(key)
      if (entry) entry[2]++
      else seen.set(key, [room, c.orderDigest, 1])
    }
    return [...seen.values()]
  }

  /** Per target (by index into config.targets), this agent's clients that connected and what they received. */
  targets(): { connected: number; deliveries: number }[] {
    const tally = this.config.targets.map(() => ({ connected: 0, deliveries: 0 }))
    for (const c of this.connections) {
      if (c.wasConnected) tally[c.target].connected++
      tally[c.target].deliveries += c.deliveries
    }
    return tally
  }

  /** Closes every connection; nothing after this counts. */
  finish(): void {
    this.halt()
    if (this.keepAlive) clearInterval(this.keepAlive)
    for (const connection of this.connections) connection.retire()
  }

  /** No more connections opened, no more messages sent. */
  private halt(): void {
    this.stopped = true
    this.stopRamp()
    this.schedule.stop()
  }

  private checkSendingDone(): void {
    if (this.counters.sendingDone || !this.sending) return
    if (!this.stopped && this.finishedSenders < this.count) return
    this.counters.sendingDone = true
    this.schedule.stop()
  }

  private stopRamp(): void {
    if (this.ramp) clearInterval(this.ramp)
    this.ramp = null
  }
}
