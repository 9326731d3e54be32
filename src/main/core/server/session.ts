import type { Socket } from 'node:net'
import type { Codec, DecodeErrorCode, FrameDecoder } from '../codec'
import type { SessionMetrics } from '../../../shared/telemetry'
import { FloodControl } from './flood-control'

/** What a session needs from the server that owns it. */
export interface SessionHost {
  /** Ask for `session.flush()` once: at the end of this event-loop turn ('turn'), or within a few ms ('lazy'). */
  scheduleFlush(session: Session, when: FlushWhen): void
  /**
   * Offers one decoded frame. False means "not now": the frame was not taken, the session holds it and
   * reads nothing more until `resumeReading()`, when it offers that same frame again first.
   */
  onFrame(session: Session, frame: Buffer): boolean
  onDecodeError(session: Session, code: DecodeErrorCode, detail: string): void
  /** The peer half-closed and every frame it sent before was taken: it will send nothing more, but still reads. */
  onFinished(session: Session): void
  onClosed(session: Session, reason: string): void
  /** The session's output pending (ours plus the socket's) grew or shrank by `delta` bytes: the node's total follows. */
  onOutputChanged(session: Session, delta: number): void
}

export interface SessionLimits {
  maxPayload: number
  /** Output queued for one peer (ours plus the socket's); past it the peer is a slow consumer and is dropped. */
  maxOutputBytes: number
  /** Output a peer may hold above this for softOutputMs at most (0 = no soft limit), as Redis's client-output-buffer-limit. */
  softOutputBytes: number
  softOutputMs: number
  /** How long a closing session may take to hand over its last output before it is cut off. */
  lingerMs: number
  /** No complete frame for this long is an idle session; 0 = never. */
  idleTimeoutMs: number
  /** A frame left incomplete for this long is a stalled one; 0 = never. */
  partialTimeoutMs: number
  /** Messages per second on average (0 = no limit), and how many at once above that. */
  maxRate: number
  rateBurst: number
}

export type TimeoutCode = 'idle-timeout' | 'partial-timeout'

/** How soon queued output must be written: this turn, or lazily with others (presence in a crowd). */
export type FlushWhen = 'turn' | 'lazy'

/** How the close reason of a session dropped for the output it would not take begins. */
export const SLOW_CONSUMER = 'slow consumer'

/**
 * One TCP connection. It owns the socket's I/O: reading through its codec's decoder, and a send
 * queue that is written out once per event-loop turn as a single write, only while the socket
 * is not asking us to wait for 'drain'. Chat state (nick, room) belongs to the listener's protocol.
 */
export class Session {
  readonly connectedAt = Date.now()
  readonly remote: string
  bytesIn = 0
  bytesOut = 0
  msgsIn = 0
  msgsOut = 0
  /** Frames of this session in the logic queue; kept by the server's read gate. */
  framesInLogic = 0
  /** Why the session is closing or closed; null while it is open. */
  closeReason: string | null = null
  /** The server has queued this session's end in the logic queue: no timeout can add to it. */
  endQueued = false
  /** The user it logged in as (AUTH, on a server with users); null until then, and on a server without. */
  user: string | null = null
  /** The session's message rate limit, applied by the server to every frame it takes; null = none. */
  readonly flood: FloodControl | null

  private readonly decoder: FrameDecoder
  /** The frame the server did not take, offered again first on resume; while set, nothing is read. */
  private refused: Buffer | null = null
  private output: Buffer[] = []
  private outputBytes = 0
  private awaitingDrain = false
  /** The soonest flush asked of the host since the last one; null when none is pending. */
  private flushRequested: FlushWhen | null = null
  private ending = false
  /** The server chose to end it (QUIT, kick, a limit, slow consumer): what it sent after is not acted on. */
  private endedByServer = false
  /** The peer's FIN arrived; it is passed on only once every frame before it was taken. */
  private peerFinished = false
  private lingerTimer: NodeJS.Timeout | null = null
  /** Since when its output has been over the soft limit without a break; null while under it. */
  private overSoftSince: number | null = null
  /** The output pending last added to the node's total; a closed session takes its share back once. */
  private reported = 0
  // Liveness, as the server's sweep last saw it: no clock is read per frame.
  private msgsAtSweep = 0
  private progressAt = performance.now()
  private partialSince: number | null = null
  /** Messages it sent per second, as the last metrics sample saw it. */
  msgsInPerSec = 0
  private msgsAtSample = 0
  private sampledAt = performance.now()

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    readonly listener: string,
    readonly codec: Codec,
    private readonly host: SessionHost,
    private readonly limits: SessionLimits
  ) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`
    this.flood = limits.maxRate > 0 ? new FloodControl(limits.maxRate, limits.rateBurst) : null
    socket.setNoDelay(true)
    this.decoder = codec.createDecoder(
      {
        onFrame: (frame) => this.offer(frame),
        onError: (code, detail) => {
          // The stream can no longer be framed: read nothing more from it.
          socket.pause()
          host.onDecodeError(this, code, detail)
        }
      },
      limits.maxPayload
    )
    socket.on('data', (chunk: Buffer) => {
      this.bytesIn += chunk.length
      // A closing session's input is read (so the peer's FIN, and with it 'close', can arrive) but not used.
      if (!this.ending) this.decoder.write(chunk)
    })
    socket.on('drain', () => {
      this.awaitingDrain = false
      // Reports what it holds now; under the soft limit again, its grace starts over.
      this.flush()
      this.withinLimits()
    })
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.closeReason ??= `socket error: ${error.code ?? error.message}`
    })
    // Like ws's receiver.end(): the end of the stream comes after every frame the decoder still holds.
    socket.on('end', () => {
      this.peerFinished = true
      if (this.refused === null) host.onFinished(this)
    })
    socket.on('close', () => {
      if (this.lingerTimer) clearTimeout(this.lingerTimer)
      this.release()
      host.onClosed(this, this.closeReason ?? 'closed by peer')
    })
  }

  private offer(frame: Buffer): boolean {
    if (!this.host.onFrame(this, frame)) {
      this.refused = frame
      this.socket.pause()
      return false
    }
    this.msgsIn++
    return true
  }

  get open(): boolean {
    return this.closeReason === null
  }

  /**
   * Whether what it sent is still acted on: until the server itself ends it. A peer that sent its lines
   * and vanished (a reset) had them accepted, and the room still hears them.
   */
  get heard(): boolean {
    return !this.endedByServer
  }

  /** Messages dropped for going over the rate limit. */
  get rateLimited(): number {
    return this.flood?.dropped ?? 0
  }

  /** Output accepted for this peer that the kernel has not taken yet. */
  get queuedBytes(): number {
    return this.outputBytes + this.socket.writableLength
  }

  /**
   * Queues encoded output (one frame, or `messages` of them in one buffer), written at the end of this turn;
   * the same Buffer may be queued on many sessions at once.
   */
  send(frame: Buffer, messages = 1): void {
    // Once per turn however many frames are queued: a broadcast to 200 sessions is 200 sends, not 200 × N requests.
    if (this.enqueue(frame, messages) && this.flushRequested !== 'turn') this.requestFlush('turn')
  }

  /**
   * Queues one encoded frame, written within a few ms with whatever else gathers meanwhile (or sooner,
   * with the next frame sent without delay): still in order, since it is the same queue.
   */
  sendLazily(frame: Buffer): void {
    if (this.enqueue(frame) && this.flushRequested === null) this.requestFlush('lazy')
  }

  /** False if the frame was not queued: the session is closing, or it just became a slow consumer. */
  private enqueue(frame: Buffer, messages = 1): boolean {
    if (!this.open) return false
    this.output.push(frame)
    this.outputBytes += frame.length
    this.msgsOut += messages
    return this.withinLimits()
  }

  /** The output limits, and the node's share of its output: at drain and by the sweep (enqueue checks the limits alone). */
  applyOutputLimits(): boolean {
    if (!this.withinLimits()) return false
    this.reportOutput()
    return this.open
  }

  /**
   * False if the output pending now cost the session its place (it is dropped). A hard limit cuts at once; a soft one only
   * when output stayed above it for its whole grace period, so a reader that pauses and catches up is kept.
   */
  private withinLimits(): boolean {
    const pending = this.queuedBytes
    const { maxOutputBytes, softOutputBytes, softOutputMs } = this.limits
    if (pending > maxOutputBytes) {
      this.destroy(`${SLOW_CONSUMER}: more than ${maxOutputBytes} bytes of output queued`)
      return false
    }
    if (softOutputBytes > 0 && pending > softOutputBytes) {
      const now = performance.now()
      this.overSoftSince ??= now
      if (now - this.overSoftSince >= softOutputMs) {
        this.destroy(`${SLOW_CONSUMER}: more than ${softOutputBytes} bytes of output queued for ${softOutputMs / 1000}s`)
        return false
      }
    } else {
      this.overSoftSince = null
    }
    return true
  }

  /** How long its output has stayed over the soft limit (ms), or null while under it. */
  overSoftMs(now: number): number | null {
    return this.overSoftSince === null ? null : now - this.overSoftSince
  }

  /**
   * Tells the node how much output it holds now: once a turn, as it flushes (not per frame: a broadcast is
   * one frame for every member), at drain, and when the node counts again before making room.
   */
  reportOutput(): void {
    if (this.reported < 0) return
    const pending = this.queuedBytes
    if (pending === this.reported) return
    const delta = pending - this.reported
    this.reported = pending
    this.host.onOutputChanged(this, delta)
  }

  /** Takes the session's share of output back from the node's total, once (marked by -1). */
  private release(): void {
    if (this.reported < 0) return
    const share = this.reported
    this.reported = -1
    if (share > 0) this.host.onOutputChanged(this, -share)
  }

  private requestFlush(when: FlushWhen): void {
    this.flushRequested = when
    this.host.scheduleFlush(this, when)
  }

  /** Hands everything queued so far to the socket as one write. */
  flush(): void {
    this.flushRequested = null
    if (this.socket.destroyed) return
    if (!this.awaitingDrain && this.output.length > 0) {
      const data = this.output.length === 1 ? this.output[0] : Buffer.concat(this.output, this.outputBytes)
      this.output = []
      this.outputBytes = 0
      this.bytesOut += data.length
      if (!this.socket.write(data)) this.awaitingDrain = true
    }
    this.reportOutput()
    if (this.ending && !this.awaitingDrain) this.socket.end()
  }

  /** Stops reading, sends what is queued, then closes; a peer that will not take it is cut off after lingerMs. */
  end(reason: string): void {
    if (this.ending) return
    this.closeReason ??= reason
    this.ending = true
    this.endedByServer = true
    this.refused = null
    this.socket.resume()
    if (this.flushRequested !== 'turn') this.requestFlush('turn')
    this.lingerTimer = setTimeout(() => this.socket.destroy(), this.limits.lingerMs)
    this.lingerTimer.unref()
  }

  destroy(reason: string): void {
    this.closeReason ??= reason
    this.endedByServer = true
    this.output = []
    this.outputBytes = 0
    this.release()
    this.socket.destroy()
  }

  /** Reads nothing more until resumeReading() (shutdown, or a session about to be closed). */
  pauseReading(): void {
    if (!this.ending) this.socket.pause()
  }

  /** Reading may go on: the frame refused last goes first, then what the decoder held back, then the socket. */
  resumeReading(): void {
    if (this.ending) return
    const refused = this.refused
    this.refused = null
    if (refused !== null && !this.offer(refused)) return
    if (!this.decoder.resume()) return
    if (this.peerFinished) return this.host.onFinished(this)
    this.socket.resume()
  }

  /**
   * Called by the server's periodic sweep: the timeout this session has just run into, if any (the server
   * then queues its end). Progress is a complete frame, even an empty line; a session the server itself
   * holds back is making progress as far as it can.
   */
  overdue(now: number): TimeoutCode | null {
    if (this.ending || this.endQueued || this.socket.destroyed) return null
    if (this.msgsIn !== this.msgsAtSweep || this.refused !== null) {
      this.msgsAtSweep = this.msgsIn
      this.progressAt = now
      this.partialSince = null
    }
    if (this.decoder.buffered === 0) this.partialSince = null
    else this.partialSince ??= now
    const { idleTimeoutMs, partialTimeoutMs } = this.limits
    if (partialTimeoutMs > 0 && this.partialSince !== null && now - this.partialSince >= partialTimeoutMs) return 'partial-timeout'
    if (idleTimeoutMs > 0 && now - this.progressAt >= idleTimeoutMs) return 'idle-timeout'
    return null
  }

  /** At each metrics sample: its messages per second since the one before. */
  sample(now: number): void {
    const seconds = (now - this.sampledAt) / 1000
    this.msgsInPerSec = seconds > 0 ? (this.msgsIn - this.msgsAtSample) / seconds : 0
    this.msgsAtSample = this.msgsIn
    this.sampledAt = now
  }

  /** Since the sweep last saw it make progress (within a sweep period, at most a second). */
  idleMs(now: number): number {
    return Math.max(0, now - this.progressAt)
  }

  metrics(now: number): Omit<SessionMetrics, 'nick' | 'room'> {
    return {
      id: this.id,
      remote: this.remote,
      listener: this.listener,
      codec: this.codec.name,
      user: this.user,
      connectedAt: this.connectedAt,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      msgsIn: this.msgsIn,
      msgsOut: this.msgsOut,
      queuedBytes: this.queuedBytes,
      rateLimited: this.rateLimited,
      msgsInPerSec: this.msgsInPerSec,
      idleMs: this.idleMs(now),
      overSoftMs: this.overSoftMs(now)
    }
  }
}
