import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { formatTarget, type LoadConfig } from '../../../shared/load'
import { backoffMs } from '../client/backoff'
import { now } from './clock'
import { roomOf, targetIndexOf } from './config'
import { createScanner, type DeliveryScanner, type DeliverySink, type TaggedLine } from './scanner'
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
  /** The CA a TLS run trusts (config.tls.ca, read). */
  readonly tlsCa: Buffer | undefined
}

/**
 * What a connection tells its run. The run keeps the counters and the histograms; a connection
 * only says what happened to it. Numbers only: these are called for every frame.
 */
export interface ConnectionEvents {
  /** The attempt ended connected, `connectMs` after it began. */
  connected(connectMs: number): void
  /** TLS: its handshake took `handshakeMs` after TCP connected. */
  handshaked(handshakeMs: number): void
  /** The attempt ended without a connection. */
  connectFailed(reason: string): void
  /** A connection was lost (not closed by the run); `comingBack`: a resuming client, which will reconnect. */
  disconnected(reason: string, comingBack: boolean): void
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
  /** Resuming: a lost connection is connected again (its RESUME on its way). */
  reconnected(): void
  /** Resuming: a reconnection lost before its RESUME-END; it tries again. */
  droppedAgain(): void
  /**
   * Resuming: back in its room, `recoverMs` after its connection was lost; `gap` if the server said it no
   * longer kept all that came after the client's last id (or the client had none to give), `lostInFlight`
   * of its own messages never came back (in flight as the connection went, and not kept).
   */
  resumed(connection: Connection, recoverMs: number, gap: boolean, lostInFlight: number): void
  /** Resuming: a message replayed by a RESUME. */
  recovered(): void
  /** A message it had seen already. */
  duplicate(): void
}



/** One load client's connection: it sees what arrives, and sends when its schedule says. */
export class Connection implements DeliverySink, Sender {
  inRoom = false
  /** Its connection is gone (for good, or until it reconnects). */
  closed = false
  /** Closed by the server or the network during the run (kicked, dropped), not by the run's end. */
  lost = false
  /** Resumed after a gap the server told of (or without an id to resume from): it may have missed messages. */
  gapped = false
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
    return this.everConnected
  }
  /** Its connection was lost and it is on its way back (resuming runs): not yet in its room again. */
  get offline(): boolean {
    return this.lostAt !== null
  }
  private sent = 0
  /** The current socket connected. */
  private connected = false
  private everConnected = false
  private settled = false
  private finishedSending = false
  private retired = false
  private errorReason: string | null = null
  /** The first bytes the server sent: what a codec mismatch is recognised by. */
  private firstBytes = ''
  private readonly sentAt = new SendTimes()
  private socket!: Socket
  private scanner!: DeliveryScanner
  private readonly writer: FrameWriter
  private openedAt = now()
  /** now() for the chunk being scanned, taken once and only if needed. */
  private chunkTime = 0
  /** Where it connects now: its own target, or (resuming, after a failed reconnect) the next one. */
  private targetNow: number
  // Resuming runs only (config.resume).
  /** The last id it saw: of a message, or the place its own JOINED gave it. */
  private lastId: string | null = null
  /** When its connection was lost; null while it is in its room. */
  private lostAt: number | null = null
  /** Reconnecting: a RESUME is answered until RESUME-END (or, without an id, a PONG). */
  private resuming = false
  /** Resuming: its own JOINED came; what reached the new connection before it, the replay brings again. */
  private started = false
  /** Resuming without an id (it never had one): JOIN and PING instead of RESUME, the PONG ends it. */
  private rejoining = false
  private gapTold = false
  private failures = 0
  private retryTimer: NodeJS.Timeout | null = null
  /** The last sequence number it saw of each member of its room (the room's clients are consecutive indexes). */
  private readonly seen: Int32Array | null = null
  private readonly roomStart: number

  constructor(
    readonly index: number,
    private readonly setup: ConnectionSetup,
    private readonly events: ConnectionEvents
  ) {
    const { config } = setup
    this.writer = new FrameWriter(config.codec, setup.layout, index)
    this.target = targetIndexOf(config, index)
    this.targetNow = this.target
    this.roomStart = config.roomSize > 0 ? roomOf(config, index) * config.roomSize : 0
    if (config.resume) this.seen = new Int32Array(Math.min(config.roomSize || config.clients, config.clients - this.roomStart)).fill(-1)
    this.dial()
  }

  private dial(): void {
    const { config } = this.setup
    this.openedAt = now()
    this.connected = false
    this.scanner = createScanner(config.codec, this.setup.layout, this, this.setup.sync)
    const target = config.targets[this.targetNow]
    const { tls } = config
    const socket = tls ? tlsConnect({ ...target, ca: this.setup.tlsCa, rejectUnauthorized: !tls.insecure }) : netConnect(target)
    this.socket = socket
    socket.setNoDelay(true)
    if (tls) {
      let tcpAt = 0
      socket.once('connect', () => (tcpAt = now()))
      socket.once('secureConnect', () => {
        this.events.handshaked(now() - tcpAt)
        this.onConnect()
      })
    } else socket.once('connect', () => this.onConnect())
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (error: NodeJS.ErrnoException) => this.onSocketError(error))
    socket.on('close', () => socket === this.socket && this.onClose())
  }

  private onConnect(): void {
    this.connected = true
    this.closed = false
    const connectMs = now() - this.openedAt
    const { config } = this.setup
    if (this.lostAt !== null) return this.resume()
    this.everConnected = true
    if (config.codec === 'line') {
      // Replies come in order: the PONG proves the JOIN (if any) is done and we are in our room. A resuming
      // client asks for ids first: its own JOINED then says where it came in, and every MSG its id.
      const ids = config.resume ? 'CAP ids\n' : ''
      const room = config.roomSize > 0 ? `JOIN ${this.roomName}\n` : ''
      this.write(Buffer.from(`${this.login}${ids}${room}PING in-room\n`, 'utf8'))
    }
    this.events.connected(connectMs)
  }

  private get roomName(): string {
    const { config } = this.setup
    return config.roomSize > 0 ? `load-${roomOf(config, this.index)}` : 'lobby'
  }

  /** Connected again: back to its room, and what it missed since its last id replayed (RESUME). */
  private resume(): void {
    this.resuming = true
    this.started = false
    this.gapTold = false
    this.events.reconnected()
    // No id (its CAP's answer never came): it can only come back, and say it may have missed some.
    this.rejoining = this.lastId === null
    const back = this.rejoining ? `JOIN ${this.roomName}\nPING resumed\n` : `RESUME ${this.roomName} ${this.lastId}\n`
    this.write(Buffer.from(`${this.login}CAP ids\n${back}`, 'utf8'))
  }

  /** A server with users: every connection logs in first; the commands behind it wait for its answer. */
  private get login(): string {
    const { auth } = this.setup.config
    return auth ? `AUTH ${auth.user} ${auth.password}\n` : ''
  }

  /** Where this client connects, as reasons name it: with several targets, which one failed matters. */
  private get address(): string {
    return formatTarget(this.setup.config.targets[this.targetNow])
  }

  private onSocketError(error: NodeJS.ErrnoException): void {
    this.errorReason ??= `${this.address}: ${error.code ?? error.message}`
  }

  private onClose(): void {
    // Closed already, and not on its way back: this is the end of a connection the run let go.
    if (this.closed && !this.offline) return
    this.closed = true
    if (this.retired) return
    if (this.lostAt !== null) {
      if (this.connected) this.events.droppedAgain()
      return this.reconnectLater(this.connected)
    }
    if (this.setup.config.resume && this.everConnected && this.settled) {
      // Lost: it comes back by itself and resumes where it was.
      this.events.disconnected(this.errorReason ?? this.unexplainedClose(), true)
      this.inRoom = false
      this.lostAt = now()
      this.errorReason = null
      return this.reconnectLater(true)
    }
    if (!this.connected) {
      this.settle()
      this.finishSending()
      this.events.connectFailed(this.errorReason ?? `${this.address}: closed`)
      return
    }
    this.lost = true
    this.events.disconnected(this.errorReason ?? this.unexplainedClose(), false)
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

  /** Tries again after a jittered, growing wait; after a failed connect, at the next target (another node). */
  private reconnectLater(connected: boolean): void {
    this.resuming = false
    if (!connected) this.targetNow = (this.targetNow + 1) % this.setup.config.targets.length
    const inMs = backoffMs(this.failures++)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      if (!this.retired) this.dial()
    }, inMs)
  }

  /** The storm a load generator can make on its own: the connection cut, as a network would. */
  cut(): void {
    if (!this.isOpen) return
    this.errorReason = 'cut by the storm'
    this.socket.destroy()
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
    // Before its marker a client sees only older traffic (a room's history): not this run's. A replay is,
    // from its own JOINED on: before that the new connection sees live lines the replay brings again.
    if (this.resuming ? !this.started : !this.inRoom) return
    if (this.seen !== null && sender >= 0) {
      const slot = sender - this.roomStart
      if (slot >= 0 && slot < this.seen.length) {
        if (seq <= this.seen[slot]) return this.events.duplicate()
        this.seen[slot] = seq
      }
    }
    if (this.resuming) this.events.recovered()
    this.deliveries++
    this.events.delivered(this.clock())
    if (sender < 0) return this.events.protocolError()
    // FNV-1a's step over (sender, seq): cheap, and a different order gives a different digest.
    this.orderDigest = Math.imul(this.orderDigest ^ (sender * 65_599 + seq), 0x01000193) >>> 0
    if (sender !== this.index) return
    // Resuming: its own messages before this one were in flight when its connection went, and are not kept.
    if (this.resuming && seq > this.nextEcho && seq < this.sent) this.dropInFlight(seq)
    if (seq !== this.nextEcho || seq >= this.sent) {
      // Lost, repeated or reordered: the server broke the sender's order.
      this.events.protocolError()
      return
    }
    this.nextEcho++
    this.events.echoed(this.clock() - this.sentAt.shift())
  }

  onMarker(): void {
    // While resuming, only the PONG of a rejoin means anything (a keepalive's does not).
    if (this.resuming) return this.rejoining && this.started ? this.onResumeEnd() : undefined
    if (this.inRoom || this.closed) return
    this.inRoom = true
    this.settle()
  }

  onId(id: string, line: TaggedLine): void {
    if (!this.resuming) {
      // Its CAP's answer and its own JOINED tell its place; a MSG, the message.
      this.lastId = id
      return
    }
    // Resuming: its own JOINED starts the replay (the place it tells is after it); the CAP's is the lobby's.
    if (line === 'JOINED') this.started = true
    else if (line === 'MSG' && this.started) this.lastId = id
  }

  onResumeEnd(): void {
    if (!this.resuming || this.lostAt === null) return
    this.resuming = false
    this.inRoom = true
    const lost = this.dropInFlight(this.sent)
    const gap = this.gapTold || this.lastId === null
    if (gap) this.gapped = true
    this.events.resumed(this, now() - this.lostAt, gap, lost)
    this.lostAt = null
    this.failures = 0
    // What refused a reconnection on the way (ERR server-full) is not why it will next be lost.
    this.errorReason = null
    // A closed loop sends again (the lost messages freed their places in its window).
    this.events.echoesRead(this)
  }

  /** Its own messages before `seq` never came back: forgets their send times and waits for them no more. */
  private dropInFlight(seq: number): number {
    const lost = seq - this.nextEcho
    for (let i = 0; i < lost; i++) this.sentAt.shift()
    this.nextEcho = seq
    return lost
  }

  /** A refusal (ERR server-full) or a farewell (BYE kicked) is its own reason; the disconnect that follows is not counted again. */
  onRefused(line: string): void {
    if (line.startsWith('ERR auth-')) {
      // Not logged in (a wrong password, or none given to a server with users): nothing it sends would count.
      // The refusals of what it sent behind its AUTH, read in the same chunk, are not the reason.
      if (this.socket.destroyed) return
      const { auth } = this.setup.config
      this.errorReason = `${line.split(' ').slice(0, 2).join(' ')} ${auth ? `(logging in as ${auth.user})` : '(the server has users: --user, --password)'}`
      this.socket.destroy()
      return
    }
    if (this.resuming && line.startsWith('ERR history-gone ')) {
      this.gapTold = true
      return
    }
    if (this.resuming && line.startsWith('ERR ')) {
      // The resume itself refused (the cluster's Redis away): this connection is given up, and tried again.
      this.socket.destroy()
      return
    }
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
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.socket.destroy()
  }
}
