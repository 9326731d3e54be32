import { connect as netConnect, type Socket } from 'node:net'
import { formatTarget, type LoadConfig } from '../../../shared/load'
import { now } from './clock'
import { roomOf, targetIndexOf } from './config'
import { createScanner, type DeliveryScanner, type DeliverySink } from './scanner'
import type { Sender } from './schedule'
import { SendTimes } from './send-times'
import { FrameWriter, type TagLayout } from './wire'

/** What every connection of a run shares. */
export interface ConnectionSetup {
  readonly config: LoadConfig
  readonly layout: TagLayout
  /** This run's barrier body (asio). */
  readonly sync: Buffer
  /** Messages a client may send: its count, or as many as the tag's sequence digits can number. */
  readonly maxSequence: number
}

/**
 * What a connection tells its run. The run keeps the counters and the histograms; a connection
 * only says what happened to it. Numbers only: these are called for every frame.
 */
export interface ConnectionEvents {
  /** The attempt ended connected, `connectMs` after it began. */
  connected(connectMs: number): void
  /** The attempt ended without a connection. */
  connectFailed(reason: string): void
  /** A connection was lost (not closed by the run). */
  disconnected(reason: string): void
  /** In its room, or never will be (failed or closed first): once per connection. */
  settled(): void
  /** Will send no more (all its messages sent, or its connection gone): once per connection. */
  doneSending(): void
  wrote(bytes: number): void
  read(bytes: number): void
  /** It sent `count` messages: they owe one delivery to every member of its room. */
  sent(connection: Connection, count: number): void
  /** A frame of this run arrived (from any sender), at `at`. */
  delivered(at: number): void
  /** One of its own messages came back, `latencyMs` after it was sent. */
  echoed(latencyMs: number): void
  /** The chunk just read brought some of its own messages back. */
  echoesRead(connection: Connection): void
  /** A frame with no tag, out of its sender's order, or a stream that cannot be framed. */
  protocolError(): void
}

/** One load client's connection: it sees what arrives, and sends when its schedule says. */
export class Connection implements DeliverySink, Sender {
  inRoom = false
  closed = false
  /** Closed by the server or the network during the run (kicked, dropped), not by the run's end. */
  lost = false
  nextEcho = 0
  /**
   * A rolling hash of every delivery's sender and sequence number, in arrival order: members of a room
   * that saw its messages in one order end with the same digest, whichever node they are on.
   */
  orderDigest = 0
  /** Frames of this run it received: its target's share of the deliveries. */
  deliveries = 0
  readonly target: number
  get isOpen(): boolean {
    return this.connected && !this.closed
  }
  get wasConnected(): boolean {
    return this.connected
  }
  private sent = 0
  private connected = false
  private settled = false
  private finishedSending = false
  private retired = false
  private errorReason: string | null = null
  /** The first bytes the server sent: what a codec mismatch is recognised by. */
  private firstBytes = ''
  private readonly sentAt = new SendTimes()
  private readonly socket: Socket
  private readonly scanner: DeliveryScanner
  private readonly writer: FrameWriter
  private readonly openedAt = now()
  /** now() for the chunk being scanned, taken once and only if needed. */
  private chunkTime = 0

  constructor(
    readonly index: number,
    private readonly setup: ConnectionSetup,
    private readonly events: ConnectionEvents
  ) {
    const { config } = setup
    this.scanner = createScanner(config.codec, setup.layout, this, setup.sync)
    this.writer = new FrameWriter(config.codec, setup.layout, index)
    this.target = targetIndexOf(config, index)
    this.socket = netConnect(config.targets[this.target])
    this.socket.setNoDelay(true)
    this.socket.once('connect', () => this.onConnect())
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk))
    this.socket.on('error', (error: NodeJS.ErrnoException) => this.onSocketError(error))
    this.socket.on('close', () => this.onClose())
  }

  private onConnect(): void {
    this.connected = true
    const connectMs = now() - this.openedAt
    const { config } = this.setup
    if (config.codec === 'line') {
      // Replies come in order: the PONG proves the JOIN (if any) is done and we are in our room.
      const room = config.roomSize > 0 ? `JOIN load-${roomOf(config, this.index)}\n` : ''
      this.write(Buffer.from(`${room}PING in-room\n`, 'latin1'))
    }
    this.events.connected(connectMs)
  }

  /** Where this client connects, as reasons name it: with several targets, which one failed matters. */
  private get address(): string {
    return formatTarget(this.setup.config.targets[this.target])
  }

  private onSocketError(error: NodeJS.ErrnoException): void {
    this.errorReason ??= `${this.address}: ${error.code ?? error.message}`
  }

  private onClose(): void {
    if (this.closed) return
    this.closed = true
    if (this.retired) return
    if (!this.connected) {
      this.settle()
      this.finishSending()
      this.events.connectFailed(this.errorReason ?? `${this.address}: closed`)
      return
    }
    this.lost = true
    this.events.disconnected(this.errorReason ?? this.unexplainedClose())
    this.settle()
    this.finishSending()
  }

  /**
   * A line server answers the PING that follows the connect; one that closes first without a word (no ERR,
   * no BYE) is most likely an asio listener, which takes "PING..." for a bad header.
   */
  private unexplainedClose(): string {
    if (this.setup.config.codec === 'line' && !this.inRoom) return `${this.address} did not answer as a line server: is it an asio listener?`
    return `${this.address}: closed by server`
  }

  private settle(): void {
    if (this.settled) return
    this.settled = true
    this.events.settled()
  }

  private finishSending(): void {
    if (this.finishedSending) return
    this.finishedSending = true
    this.events.doneSending()
  }

  write(frame: Buffer): void {
    this.events.wrote(frame.length)
    this.socket.write(frame)
  }

  private onData(chunk: Buffer): void {
    if (this.firstBytes.length < 60) this.firstBytes += chunk.toString('latin1', 0, 60 - this.firstBytes.length)
    this.chunkTime = 0
    this.events.read(chunk.length)
    const echoed = this.nextEcho
    this.scanner.write(chunk)
    if (this.nextEcho !== echoed) this.events.echoesRead(this)
  }

  private clock(): number {
    return this.chunkTime === 0 ? (this.chunkTime = now()) : this.chunkTime
  }

  onDelivery(sender: number, seq: number): void {
    // Before its marker a client sees only older traffic (a room's history): not this run's.
    if (!this.inRoom) return
    this.deliveries++
    this.events.delivered(this.clock())
    if (sender < 0) return this.events.protocolError()
    // FNV-1a's step over (sender, seq): cheap, and a different order gives a different digest.
    this.orderDigest = Math.imul(this.orderDigest ^ (sender * 65_599 + seq), 0x01000193) >>> 0
    if (sender !== this.index) return
    if (seq !== this.nextEcho || seq >= this.sent) {
      // Lost, repeated or reordered: the server broke the sender's order.
      this.events.protocolError()
      return
    }
    this.nextEcho++
    this.events.echoed(this.clock() - this.sentAt.shift())
  }

  onMarker(): void {
    if (this.inRoom || this.closed) return
    this.inRoom = true
    this.settle()
  }

  /** A refusal (ERR server-full) or a farewell (BYE kicked) is its own reason; the disconnect that follows is not counted again. */
  onRefused(line: string): void {
    this.errorReason = line.split(' ').slice(0, 2).join(' ')
  }

  onError(detail: string): void {
    this.events.protocolError()
    // Asio's framing read from a line server's greeting: say what it is, not which header it made.
    const greeting = this.setup.config.codec === 'asio' ? /^[A-Z]+ [^\r\n]*/.exec(this.firstBytes) : null
    this.errorReason = greeting ? `${this.address} speaks the line protocol, not asio (it sent "${greeting[0]}")` : `${this.address}: ${detail}`
    this.socket.destroy()
  }

  /** Sends messages up to sequence number `target` (exclusive), bounded by the message count. */
  sendUpTo(target: number): void {
    if (this.closed || !this.inRoom) return
    // Never past the sequence numbers the tag has digits for, even if a stop arrives late.
    const limit = Math.min(target, this.setup.maxSequence)
    const count = limit - this.sent
    if (count <= 0) return
    this.sentAt.push(now(), count)
    this.write(this.writer.frames(this.sent, count))
    this.events.sent(this, count)
    this.sent += count
    const { messages } = this.setup.config
    if (messages > 0 && this.sent >= messages) this.finishSending()
  }

  /** Closes the connection for good; nothing it sees after this counts. */
  retire(): void {
    this.retired = true
    this.socket.destroy()
  }
}
