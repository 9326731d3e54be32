import type { Codec, DecoderEvents, FrameDecoder } from './types'

const LF = 0x0a
const CR = 0x0d

/**
 * Splits a byte stream into lines ending in `\n` (a `\r` just before it is dropped too).
 * A line longer than `maxLine` bytes is an error as soon as it is seen, even before its end
 * arrives, so a peer that never sends `\n` cannot make us buffer without bound.
 */
export class LineDecoder implements FrameDecoder {
  private pending: Buffer[] = []
  private pendingBytes = 0
  private failed = false

  constructor(
    private readonly events: DecoderEvents,
    private readonly maxLine: number
  ) {}

  get buffered(): number {
    return this.pendingBytes
  }

  write(chunk: Buffer): void {
    let start = 0
    while (!this.failed) {
      const lf = chunk.indexOf(LF, start)
      if (lf === -1) {
        this.keep(chunk.subarray(start))
        return
      }
      let line = chunk.subarray(start, lf)
      if (this.pendingBytes > 0) {
        line = Buffer.concat([...this.pending, line], this.pendingBytes + line.length)
        this.pending = []
        this.pendingBytes = 0
      }
      start = lf + 1
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1)
      if (line.length > this.maxLine) return this.fail(line.length)
      this.events.onFrame(line)
    }
  }

  private keep(rest: Buffer): void {
    if (rest.length === 0) return
    this.pending.push(rest)
    this.pendingBytes += rest.length
    // One byte of slack: the line may still end in "\r\n", and the "\r" is not counted.
    if (this.pendingBytes > this.maxLine + 1) this.fail(this.pendingBytes)
  }

  private fail(length: number): void {
    this.failed = true
    this.pending = []
    this.pendingBytes = 0
    this.events.onError('line-too-long', `line of ${length}+ bytes exceeds the limit of ${this.maxLine}`)
  }
}

export const lineCodec: Codec = {
  name: 'line',
  createDecoder: (events, maxPayload) => new LineDecoder(events, maxPayload),
  encode: (payload) =>
    typeof payload === 'string'
      ? Buffer.from(payload + '\n', 'utf8')
      : Buffer.concat([payload, Buffer.from([LF])], payload.length + 1)
}
