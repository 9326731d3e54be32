import { connect as netConnect, type Socket } from 'node:net'
import type { LoadConfig } from '../../../shared/load'
import { createHistogram, recordMs, type Histogram } from './histogram'
import { maxMessages, roomCount, roomOf } from './config'
import type { AgentCounters } from './messages'
import { createScanner, type DeliveryScanner, type DeliverySink } from './scanner'
import { FrameWriter, TagLayout, frameOf } from './wire'

/** Connections opened at once when no connect rate is set: quick, without overrunning a listen backlog. */
const CONNECT_PARALLEL = 64
/** How often an open loop tops up each client's sends, and a rate-limited ramp opens connections. */
const TICK_MS = 10

/** Epoch milliseconds with sub-millisecond precision: comparable between the agents of one run. */
export const now = (): number => performance.timeOrigin + performance.now()

/** Send times of a client's messages still in flight, oldest first; grows only as far as the backlog does. */
class SendTimes {
  private times = new Float64Array(8)
  private head = 0
  private length = 0

  push(at: number, count: number): void {
    if (this.length + count > this.times.length) this.grow(this.length + count)
    for (let i = 0; i < count; i++) this.times[(this.head + this.length++) % this.times.length] = at
  }

  shift(): number {
    const at = this.times[this.head]
    this.head = (this.head + 1) % this.times.length
    this.length--
    return at
  }

  private grow(needed: number): void {
    let size = this.times.length * 2
    while (size < needed) size *= 2
    const next = new Float64Array(size)
    for (let i = 0; i < this.length; i++) next[i] = this.times[(this.head + i) % this.times.length]
    this.times = next
    this.head = 0
  }
}

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
    expected: 0,
    sendingDone: false,
    firstSendAt: 0,
    lastDeliveryAt: 0
  }
  /** Latency since the last progress report; `total` keeps the whole run. */
  interval: Histogram = createHistogram()
  readonly total = createHistogram()
  readonly connectTimes = createHistogram()
  readonly errors: Record<string, number> = {}
  readonly layout: TagLayout
  readonly sync: Buffer
  /** Messages a client may send: its count, or as many as the tag's sequence digits can number. */
  readonly maxSequence: number
  private readonly clients: LoadClient[] = []
  private members: number[] = []
  private sending = false
  private stopped = false
  private goAt = 0
  private ticker: NodeJS.Timeout | null = null
  private attempted = 0
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
    this.layout = new TagLayout(config.clients, this.maxSequence, config.size)
    this.sync = this.layout.syncBody(nonce)
  }

  countError(reason: string): void {
    this.errors[reason] = (this.errors[reason] ?? 0) + 1
  }

  /** Opens the connections, as fast as allowed or at this agent's share of the connect rate. */
  connectAll(): void {
    const rate = this.config.connectRate / this.config.agents
    if (rate === 0) return this.connectWave()
    const startedAt = now()
    this.ticker = setInterval(() => {
      const due = Math.min(this.count, Math.floor(((now() - startedAt) * rate) / 1000) + 1)
      while (this.clients.length < due) this.open()
      if (this.clients.length >= this.count) this.stopTicker()
    }, TICK_MS)
  }

  private connectWave(): void {
    const end = Math.min(this.count, this.clients.length + CONNECT_PARALLEL)
    while (this.clients.length < end) this.open()
  }

  private open(): void {
    const index = this.first + this.clients.length
    const client = new LoadClient(index, this)
    this.clients.push(client)
  }

  /** A connection attempt ended: connected or failed. */
  attemptDone(): void {
    this.attempted++
    if (this.config.connectRate === 0 && this.attempted === this.clients.length) this.connectWave()
    if (this.attempted === this.count) {
      this.events.connected(this.counters.connectErrors)
      this.checkReady()
    }
  }

  /** A client is in its room, or will never be: counted once per client. */
  clientSettled(): void {
    this.settled++
    this.checkReady()
  }

  /** Ready once every connection was tried and each connected client is in its room (or gone). */
  private checkReady(): void {
    if (this.attempted < this.count || this.settled < this.count || this.sending) return
    const members = new Array<number>(roomCount(this.config)).fill(0)
    for (const c of this.clients) if (c.inRoom && !c.closed) members[roomOf(this.config, c.index)]++
    this.events.ready(members)
  }

  /** asio: the barrier body, from one client, reaches every participant (a late one through the history). */
  sendSync(): void {
    // From any client still connected: the first one may have been refused.
    this.clients.find((client) => client.isOpen)?.write(frameOf('asio', this.sync).frame)
  }

  go(members: number[]): void {
    this.members = members
    this.sending = true
    this.goAt = now()
    this.counters.firstSendAt = this.goAt
    if (this.config.mode === 'closed') {
      for (const client of this.clients) client.pump()
    } else {
      this.tick()
      this.ticker = setInterval(() => this.tick(), TICK_MS)
    }
  }

  stop(): void {
    this.stopped = true
    this.stopTicker()
    this.checkSendingDone()
  }

  /** A client will send no more: counted once per client. */
  senderFinished(): void {
    this.finishedSenders++
    this.checkSendingDone()
  }

  /** Closes every connection; nothing after this counts. */
  finish(): void {
    this.stopped = true
    this.stopTicker()
    for (const client of this.clients) client.retire()
  }

  get isSending(): boolean {
    return this.sending && !this.stopped
  }

  /** Open loop: each client sends what its rate owes by now, in one write. */
  private tick(): void {
    const elapsed = now() - this.goAt
    const periodMs = 1000 / this.config.rate
    for (const client of this.clients) {
      // Each client's schedule is offset by its share of one period, so the clients of a tick do not
      // all send at once: an open loop is a steady stream, not a burst every period.
      const offset = (client.index / this.config.clients) * periodMs
      if (elapsed >= offset) client.sendUpTo(Math.floor((elapsed - offset) / periodMs) + 1)
    }
  }

  /** Records `count` messages sent by a client: they owe one delivery to every member of its room. */
  recordSent(index: number, count: number): void {
    this.counters.sent += count
    this.counters.expected += count * (this.members[roomOf(this.config, index)] ?? 0)
  }

  private checkSendingDone(): void {
    if (this.counters.sendingDone || !this.sending) return
    if (!this.stopped && this.finishedSenders < this.count) return
    this.counters.sendingDone = true
    this.stopTicker()
  }

  private stopTicker(): void {
    if (this.ticker) clearInterval(this.ticker)
    this.ticker = null
  }
}

/** One connection: it counts what arrives, and sends as its loop allows. */
class LoadClient implements DeliverySink {
  sent = 0
  inRoom = false
  closed = false
  get isOpen(): boolean {
    return this.connected && !this.closed
  }
  private connected = false
  private settled = false
  private finishedSending = false
  private retired = false
  private nextEcho = 0
  private readonly sentAt = new SendTimes()
  private readonly socket: Socket
  private readonly scanner: DeliveryScanner
  private readonly writer: FrameWriter
  private readonly openedAt = now()
  /** now() for the chunk being scanned, taken once and only if needed. */
  private chunkTime = 0

  constructor(
    readonly index: number,
    private readonly run: AgentRun
  ) {
    const { config } = run
    this.scanner = createScanner(config.codec, run.layout, this, run.sync)
    this.writer = new FrameWriter(config.codec, run.layout, index)
    this.socket = netConnect({ host: config.host, port: config.port })
    this.socket.setNoDelay(true)
    this.socket.once('connect', () => this.onConnect())
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk))
    this.socket.on('error', (error: NodeJS.ErrnoException) => this.onSocketError(error))
    this.socket.on('close', () => this.onClose())
  }

  private onConnect(): void {
    this.connected = true
    this.run.counters.open++
    recordMs(this.run.connectTimes, now() - this.openedAt)
    if (this.run.config.codec === 'line') {
      // Replies come in order: the PONG proves the JOIN (if any) is done and we are in our room.
      const room = this.run.config.roomSize > 0 ? `JOIN load-${roomOf(this.run.config, this.index)}\n` : ''
      this.write(Buffer.from(`${room}PING in-room\n`, 'latin1'))
    }
    this.run.attemptDone()
  }

  private errorReason: string | null = null

  private onSocketError(error: NodeJS.ErrnoException): void {
    this.errorReason ??= error.code ?? error.message
  }

  private onClose(): void {
    if (this.closed) return
    this.closed = true
    if (this.retired) return
    if (!this.connected) {
      this.run.counters.connectErrors++
      this.run.countError(`connect: ${this.errorReason ?? 'closed'}`)
      this.settle()
      this.finishSending()
      this.run.attemptDone()
      return
    }
    this.run.counters.open--
    this.run.counters.disconnects++
    this.run.countError(this.errorReason ?? 'closed by server')
    this.settle()
    this.finishSending()
  }

  private settle(): void {
    if (this.settled) return
    this.settled = true
    this.run.clientSettled()
  }

  private finishSending(): void {
    if (this.finishedSending) return
    this.finishedSending = true
    this.run.senderFinished()
  }

  write(frame: Buffer): void {
    this.run.counters.bytesOut += frame.length
    this.socket.write(frame)
  }

  private onData(chunk: Buffer): void {
    this.chunkTime = 0
    this.run.counters.bytesIn += chunk.length
    const echoed = this.nextEcho
    this.scanner.write(chunk)
    if (this.nextEcho !== echoed && this.run.config.mode === 'closed') this.pump()
  }

  private clock(): number {
    return this.chunkTime === 0 ? (this.chunkTime = now()) : this.chunkTime
  }

  onDelivery(sender: number, seq: number): void {
    // Before its marker a client sees only older traffic (a room's history): not this run's.
    if (!this.inRoom) return
    const counters = this.run.counters
    counters.deliveries++
    counters.lastDeliveryAt = this.clock()
    if (sender !== this.index) {
      if (sender < 0) counters.protocolErrors++
      return
    }
    if (seq !== this.nextEcho || seq >= this.sent) {
      // Lost, repeated or reordered: the server broke the sender's order.
      counters.protocolErrors++
      return
    }
    this.nextEcho++
    counters.echoed++
    const latency = this.clock() - this.sentAt.shift()
    recordMs(this.run.interval, latency)
    recordMs(this.run.total, latency)
  }

  onMarker(): void {
    if (this.inRoom || this.closed) return
    this.inRoom = true
    this.settle()
  }

  /** A refusal is its own reason (ERR server-full); the disconnect that follows is not counted again. */
  onRefused(line: string): void {
    this.errorReason = line.split(' ').slice(0, 2).join(' ')
  }

  onError(detail: string): void {
    this.run.counters.protocolErrors++
    this.errorReason = detail
    this.socket.destroy()
  }

  /** Closed loop: keep `window` of its own messages in flight, in one write. */
  pump(): void {
    const { window } = this.run.config
    this.sendUpTo(this.nextEcho + window)
  }

  /** Sends messages up to sequence number `target` (exclusive), bounded by the message count. */
  sendUpTo(target: number): void {
    if (!this.run.isSending || this.closed || !this.inRoom) return
    // Never past the sequence numbers the tag has digits for, even if a stop arrives late.
    const limit = Math.min(target, this.run.maxSequence)
    const count = limit - this.sent
    if (count <= 0) return
    this.sentAt.push(now(), count)
    this.write(this.writer.frames(this.sent, count))
    this.run.recordSent(this.index, count)
    this.sent += count
    if (this.run.config.messages > 0 && this.sent >= this.run.config.messages) this.finishSending()
  }

  retire(): void {
    this.retired = true
    this.socket.destroy()
  }
}
