import type { Socket } from 'node:net'
import type { Codec, DecodeErrorCode, FrameDecoder } from '../codec'
import type { SessionMetrics } from '../../../shared/telemetry'

/** What a session needs from the server that owns it. */
export interface SessionHost {
  /** Ask for `session.flush()` once at the end of this event-loop turn. */
  scheduleFlush(session: Session): void
  /** Takes one decoded frame; false means the logic queue is full: decode nothing more until resumed. */
  onFrame(session: Session, frame: Buffer): boolean
  onDecodeError(session: Session, code: DecodeErrorCode, detail: string): void
  /** The peer half-closed: it will send nothing more, but still reads. */
  onFinished(session: Session): void
  onClosed(session: Session, reason: string): void
}

export interface SessionLimits {
  maxPayload: number
  /** Output queued for one peer (ours plus the socket's); past it the peer is a slow consumer and is dropped. */
  maxOutputBytes: number
  /** How long a closing session may take to hand over its last output before it is cut off. */
  lingerMs: number
}

/**
 * One TCP connection. It owns the socket's I/O: reading through its codec's decoder, and a send
 * queue that is written out once per event-loop turn as a single write, only while the socket
 * is not asking us to wait for 'drain'. Room, nick and every other piece of chat state belong to the server.
 */
export class Session {
  readonly connectedAt = Date.now()
  readonly remote: string
  nick: string | null = null
  room: string | null = null
  bytesIn = 0
  bytesOut = 0
  msgsIn = 0
  msgsOut = 0
  /** Why the session is closing or closed; null while it is open. */
  closeReason: string | null = null

  private readonly decoder: FrameDecoder
  private output: Buffer[] = []
  private outputBytes = 0
  private awaitingDrain = false
  private flushRequested = false
  private ending = false
  private lingerTimer: NodeJS.Timeout | null = null

  constructor(
    readonly id: number,
    private readonly socket: Socket,
    readonly listener: string,
    readonly codec: Codec,
    private readonly host: SessionHost,
    private readonly limits: SessionLimits
  ) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`
    socket.setNoDelay(true)
    this.decoder = codec.createDecoder(
      {
        onFrame: (frame) => {
          this.msgsIn++
          return host.onFrame(this, frame)
        },
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
      this.flush()
    })
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.closeReason ??= `socket error: ${error.code ?? error.message}`
    })
    socket.on('end', () => host.onFinished(this))
    socket.on('close', () => {
      if (this.lingerTimer) clearTimeout(this.lingerTimer)
      host.onClosed(this, this.closeReason ?? 'closed by peer')
    })
  }

  get open(): boolean {
    return this.closeReason === null
  }

  /** Output accepted for this peer that the kernel has not taken yet. */
  get queuedBytes(): number {
    return this.outputBytes + this.socket.writableLength
  }

  /** Queues one encoded frame; the same Buffer may be queued on many sessions at once. */
  send(frame: Buffer): void {
    if (!this.open) return
    this.output.push(frame)
    this.outputBytes += frame.length
    this.msgsOut++
    if (this.queuedBytes > this.limits.maxOutputBytes) {
      this.destroy(`slow consumer: more than ${this.limits.maxOutputBytes} bytes of output queued`)
      return
    }
    this.requestFlush()
  }

  /** Once per turn however many frames are queued: a broadcast to 200 sessions is 200 sends, not 200 × N requests. */
  private requestFlush(): void {
    if (this.flushRequested) return
    this.flushRequested = true
    this.host.scheduleFlush(this)
  }

  /** Hands everything queued this turn to the socket as one write. */
  flush(): void {
    this.flushRequested = false
    if (this.awaitingDrain || this.socket.destroyed) return
    if (this.output.length > 0) {
      const data = this.output.length === 1 ? this.output[0] : Buffer.concat(this.output, this.outputBytes)
      this.output = []
      this.outputBytes = 0
      this.bytesOut += data.length
      if (!this.socket.write(data)) this.awaitingDrain = true
    }
    if (this.ending && !this.awaitingDrain) this.socket.end()
  }

  /** Stops reading, sends what is queued, then closes; a peer that will not take it is cut off after lingerMs. */
  end(reason: string): void {
    if (this.ending) return
    this.closeReason ??= reason
    this.ending = true
    this.socket.resume()
    this.requestFlush()
    this.lingerTimer = setTimeout(() => this.socket.destroy(), this.limits.lingerMs)
    this.lingerTimer.unref()
  }

  destroy(reason: string): void {
    this.closeReason ??= reason
    this.output = []
    this.outputBytes = 0
    this.socket.destroy()
  }

  setReading(reading: boolean): void {
    if (this.ending) return
    if (!reading) return void this.socket.pause()
    // What the decoder held back when the queue filled goes first; the socket only once it is through.
    if (this.decoder.resume()) this.socket.resume()
  }

  metrics(): SessionMetrics {
    return {
      id: this.id,
      remote: this.remote,
      listener: this.listener,
      codec: this.codec.name,
      nick: this.nick,
      room: this.room,
      connectedAt: this.connectedAt,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      msgsIn: this.msgsIn,
      msgsOut: this.msgsOut,
      queuedBytes: this.queuedBytes
    }
  }
}
