import { FramingDecoder, type Cut } from './framing'
import type { Codec, DecoderEvents } from './types'

const LF = 0x0a
const CR = 0x0d

/**
 * Splits a byte stream into lines ending in `\n` (a `\r` just before it is dropped too).
 * A line longer than `maxLine` bytes is an error as soon as it is seen, even before its end
 * arrives, so a peer that never sends `\n` cannot make us buffer without bound.
 */
export class LineDecoder extends FramingDecoder {
  constructor(
    events: DecoderEvents,
    private readonly maxLine: number
  ) {
    super(events)
  }

  protected cut(data: Buffer, offset: number): Cut | null {
    const lf = data.indexOf(LF, offset)
    if (lf === -1) {
      // One byte of slack: the line may still end in "\r\n", and the "\r" is not counted.
      return data.length - offset > this.maxLine + 1 ? this.tooLong(data.length - offset) : null
    }
    const end = lf > offset && data[lf - 1] === CR ? lf - 1 : lf
    if (end - offset > this.maxLine) return this.tooLong(end - offset)
    return { payload: data.subarray(offset, end), next: lf + 1 }
  }

  private tooLong(length: number): null {
    return this.fail('line-too-long', `line of ${length}+ bytes exceeds the limit of ${this.maxLine}`)
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

/** Several lines as one buffer, each ended as `encode` ends one: what many sessions are sent at once is built once. */
export function encodeLines(lines: string[]): Buffer {
  return Buffer.from(lines.join('\n') + '\n', 'utf8')
}
