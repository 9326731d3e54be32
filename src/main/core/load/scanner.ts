import { ASIO_HEADER_LENGTH, ASIO_MAX_BODY, readAsioLength } from '../codec/asio'
import type { CodecName } from '../codec'
import { SYNC_MARK, type TagLayout } from './wire'

/**
 * What a scanner reports. Numbers only on the hot path: the generator shares the cores with the
 * server it measures, so every delivery it parses slowly is throughput the server is not credited with.
 */
export interface DeliverySink {
  /** One delivery: an asio body, or a line-protocol `MSG` line. sender is -1 if no tag could be read. */
  onDelivery(sender: number, seq: number): void
  /** The frame that tells a client it is in its room: asio's barrier body, line's `PONG` to its `PING`. */
  onMarker(): void
  /** A line the server sent that no run should see (`ERR ...`, or `BYE ...` before a kick or a shutdown); the stream goes on. */
  onRefused(line: string): void
  /** The stream can no longer be framed; the scanner ignores all further input. */
  onError(detail: string): void
  /**
   * A line's id tag (`CAP ids`): a MSG's (the last of a chunk, by the chunk's end), or the place told with
   * one's CAP or one's own JOINED (before that line).
   */
  onId(id: string, line: TaggedLine): void
  /** `RESUME-END`: a resume's replay is over, live traffic follows. */
  onResumeEnd(): void
}

/**
 * Push parsers for the server's output, fed `write(chunk)` like the codec decoders. They do not
 * use those decoders: a decoder hands out a Buffer view per frame (and asio's a header string),
 * where these read the tag in place and allocate only to carry a frame split across chunks.
 */
export interface DeliveryScanner {
  write(chunk: Buffer): void
}

const LF = 0x0a
const CR = 0x0d

export class AsioScanner implements DeliveryScanner {
  /** The start of a frame split across chunks. */
  private readonly held = Buffer.allocUnsafe(ASIO_HEADER_LENGTH + ASIO_MAX_BODY)
  private heldBytes = 0
  private failed = false

  constructor(
    private readonly layout: TagLayout,
    private readonly sink: DeliverySink,
    /** This run's barrier body; other barrier bodies (from earlier runs) are ignored. */
    private readonly sync: Buffer
  ) {}

  write(chunk: Buffer): void {
    if (this.failed) return
    let pos = 0
    if (this.heldBytes > 0) {
      pos = this.completeHeld(chunk)
      if (pos < 0) return
    }
    const end = chunk.length
    while (end - pos >= ASIO_HEADER_LENGTH) {
      const length = readAsioLength(chunk, pos)
      if (length < 0 || length > ASIO_MAX_BODY) return this.fail(chunk, pos)
      const next = pos + ASIO_HEADER_LENGTH + length
      if (next > end) break
      this.body(chunk, pos + ASIO_HEADER_LENGTH, length)
      pos = next
    }
    if (pos < end) {
      chunk.copy(this.held, 0, pos, end)
      this.heldBytes = end - pos
    }
  }

  /** Tops up the held frame from the chunk's start; returns where the chunk's own frames begin, or -1. */
  private completeHeld(chunk: Buffer): number {
    let pos = 0
    if (this.heldBytes < ASIO_HEADER_LENGTH) {
      const take = Math.min(ASIO_HEADER_LENGTH - this.heldBytes, chunk.length)
      chunk.copy(this.held, this.heldBytes, 0, take)
      this.heldBytes += take
      pos = take
      if (this.heldBytes < ASIO_HEADER_LENGTH) return -1
    }
    const length = readAsioLength(this.held, 0)
    if (length < 0 || length > ASIO_MAX_BODY) {
      this.fail(this.held, 0)
      return -1
    }
    const total = ASIO_HEADER_LENGTH + length
    const take = Math.min(total - this.heldBytes, chunk.length - pos)
    chunk.copy(this.held, this.heldBytes, pos, pos + take)
    this.heldBytes += take
    pos += take
    if (this.heldBytes < total) return -1
    this.heldBytes = 0
    this.body(this.held, ASIO_HEADER_LENGTH, length)
    return pos
  }

  private body(source: Buffer, at: number, length: number): void {
    if (length === this.layout.size) {
      if (source[at] === SYNC_MARK) {
        if (this.sync.equals(source.subarray(at, at + length))) this.sink.onMarker()
        return
      }
      const sender = this.layout.readClient(source, at)
      if (sender >= 0) return this.sink.onDelivery(sender, this.layout.readSeq(source, at))
    }
    this.sink.onDelivery(-1, -1)
  }

  private fail(source: Buffer, at: number): void {
    this.failed = true
    this.heldBytes = 0
    const header = JSON.stringify(source.toString('latin1', at, at + ASIO_HEADER_LENGTH))
    this.sink.onError(`bad asio header ${header}`)
  }
}

/** What a tagged line is: only these are tagged (MSG for everyone that asked; CAP and JOINED for oneself). */
export type TaggedLine = 'MSG' | 'CAP' | 'JOINED'

const MSG = Buffer.from('MSG ', 'latin1')
const JOINED = Buffer.from('JOINED ', 'latin1')
const TAG = Buffer.from('@id=', 'latin1')
const RESUME_END = Buffer.from('RESUME-END ', 'latin1')
const SPACE = 0x20
const PONG = Buffer.from('PONG', 'latin1')
const ERR = Buffer.from('ERR ', 'latin1')
const BYE = Buffer.from('BYE ', 'latin1')

function startsWith(source: Uint8Array, at: number, end: number, prefix: Uint8Array): boolean {
  if (end - at < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (source[at + i] !== prefix[i]) return false
  return true
}

/** Longest line the scanner carries across chunks; the server's own limit is 4096 bytes of text. */
export const MAX_LINE = 16 * 1024

export class LineScanner implements DeliveryScanner {
  private readonly held = Buffer.allocUnsafe(MAX_LINE)
  private heldBytes = 0
  private failed = false
  /**
   * Where the id of the last tagged MSG line read is: only the last one of a chunk matters (it is where a
   * resume starts), so it is made a string once a chunk, not once a line, before its bytes can be reused.
   */
  private tagSource: Buffer | null = null
  private tagFrom = 0
  private tagTo = 0

  constructor(
    private readonly layout: TagLayout,
    private readonly sink: DeliverySink
  ) {}

  write(chunk: Buffer): void {
    if (this.failed) return
    let pos = 0
    if (this.heldBytes > 0) {
      const lf = chunk.indexOf(LF)
      if (lf === -1) return this.hold(chunk, 0)
      if (!this.append(chunk, 0, lf)) return
      const length = this.heldBytes
      this.heldBytes = 0
      this.line(this.held, 0, length)
      pos = lf + 1
    }
    for (;;) {
      const lf = chunk.indexOf(LF, pos)
      if (lf === -1) break
      this.line(chunk, pos, lf)
      pos = lf + 1
    }
    this.flushTag()
    if (pos < chunk.length) this.hold(chunk, pos)
  }

  /** Tells the sink the last MSG id read, if one is pending. */
  private flushTag(): void {
    if (this.tagSource === null) return
    const id = this.tagSource.toString('latin1', this.tagFrom, this.tagTo)
    this.tagSource = null
    this.sink.onId(id, 'MSG')
  }

  private append(chunk: Buffer, from: number, to: number): boolean {
    const total = this.heldBytes + (to - from)
    if (total > MAX_LINE) {
      this.failed = true
      this.heldBytes = 0
      this.sink.onError(`line of ${total}+ bytes exceeds ${MAX_LINE}`)
      return false
    }
    chunk.copy(this.held, this.heldBytes, from, to)
    this.heldBytes = total
    return true
  }

  private hold(chunk: Buffer, from: number): void {
    this.append(chunk, from, chunk.length)
  }

  private line(source: Buffer, at: number, end: number): void {
    if (end > at && source[end - 1] === CR) end--
    // Only a client that asked for ids (a resuming run) gets tagged lines: the tag is read only then.
    if (startsWith(source, at, end, TAG)) {
      const space = source.indexOf(SPACE, at)
      if (space === -1 || space >= end) return this.sink.onDelivery(-1, -1)
      const from = at + TAG.length
      at = space + 1
      if (startsWith(source, at, end, MSG)) {
        this.tagSource = source
        this.tagFrom = from
        this.tagTo = space
      } else {
        // Another tagged line (one's CAP or own JOINED) comes after the MSG before it: that one is told first.
        this.flushTag()
        this.sink.onId(source.toString('latin1', from, space), startsWith(source, at, end, JOINED) ? 'JOINED' : 'CAP')
      }
    }
    if (startsWith(source, at, end, MSG)) {
      // `MSG <room> <nick> <text>`: the text is the body as sent, so it is the line's last `size` bytes.
      const body = end - this.layout.size
      if (body >= at + MSG.length) {
        const sender = this.layout.readClient(source, body)
        if (sender >= 0) return this.sink.onDelivery(sender, this.layout.readSeq(source, body))
      }
      return this.sink.onDelivery(-1, -1)
    }
    if (startsWith(source, at, end, PONG)) return this.sink.onMarker()
    if (startsWith(source, at, end, RESUME_END)) return this.sink.onResumeEnd()
    if (startsWith(source, at, end, ERR) || startsWith(source, at, end, BYE)) this.sink.onRefused(source.toString('utf8', at, end))
  }
}

/** `sync` is the asio barrier body (see TagLayout.syncBody); a line client PINGs after its JOIN instead. */
export function createScanner(codec: CodecName, layout: TagLayout, sink: DeliverySink, sync: Buffer): DeliveryScanner {
  return codec === 'asio' ? new AsioScanner(layout, sink, sync) : new LineScanner(layout, sink)
}
