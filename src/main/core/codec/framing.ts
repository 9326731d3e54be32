import type { DecodeErrorCode, DecoderEvents, FrameDecoder } from './types'

const EMPTY = Buffer.alloc(0)

/** Where `cut` found a frame: its payload, and where the next one starts. */
export interface Cut {
  payload: Buffer
  next: number
}

/**
 * A push decoder that frames a byte stream with a subclass's rule (`cut`). It can be stopped between
 * two frames (onFrame returns false) and resumed later: what a chunk held beyond that point waits
 * here, undecoded, so a full logic queue stops decoding at once, not at the end of a 64 KiB read.
 */
export abstract class FramingDecoder implements FrameDecoder {
  private held: Buffer = EMPTY
  private failed = false
  private stopped = false

  constructor(protected readonly events: DecoderEvents) {}

  get buffered(): number {
    return this.held.length
  }

  write(chunk: Buffer): void {
    if (this.failed) return
    this.held = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk
    this.drain()
  }

  resume(): boolean {
    this.stopped = false
    this.drain()
    return !this.stopped
  }

  /** The next whole frame at `offset`, or null until more bytes arrive (or after `fail`). */
  protected abstract cut(data: Buffer, offset: number): Cut | null

  protected fail(code: DecodeErrorCode, detail: string): null {
    this.failed = true
    this.held = EMPTY
    this.events.onError(code, detail)
    return null
  }

  private drain(): void {
    const data = this.held
    let offset = 0
    while (!this.stopped && !this.failed) {
      const frame = this.cut(data, offset)
      if (!frame) break
      offset = frame.next
      if (this.events.onFrame(frame.payload) === false) this.stopped = true
    }
    if (this.failed) return
    const rest = data.length - offset
    // A partial frame is copied, so a few bytes do not pin a whole chunk in memory.
    this.held = rest === 0 ? EMPTY : this.stopped ? data.subarray(offset) : Buffer.from(data.subarray(offset))
  }
}
