import { FramingDecoder, type Cut } from './framing'
import type { Codec, DecoderEvents } from './types'

/** The framing of Asio's C++ chat example (examples/cpp11/chat/chat_message.hpp). */
export const ASIO_HEADER_LENGTH = 4
export const ASIO_MAX_BODY = 512

const SPACE = 0x20
const ZERO = 0x30

/**
 * The body length in the header at `at`, or -1 if it is not a header. Asio reads it with atoi(),
 * which also takes junk as 0; we take only what "%4d" can produce (leading spaces, then digits).
 * Reads in place, allocating nothing: the load generator scans every frame with it.
 */
export function readAsioLength(source: Uint8Array, at: number): number {
  const end = at + ASIO_HEADER_LENGTH
  let i = at
  while (i < end && source[i] === SPACE) i++
  if (i === end) return -1
  let value = 0
  for (; i < end; i++) {
    const digit = source[i] - ZERO
    if (digit < 0 || digit > 9) return -1
    value = value * 10 + digit
  }
  return value
}

/**
 * Splits a byte stream into Asio chat messages: a 4-byte right-aligned decimal length, then the body.
 * A bad header means the stream can no longer be framed: the decoder reports it and stops, and the
 * owner closes the session, as Asio's chat_server does.
 */
export class AsioDecoder extends FramingDecoder {
  constructor(
    events: DecoderEvents,
    private readonly maxBody: number = ASIO_MAX_BODY
  ) {
    super(events)
  }

  protected cut(data: Buffer, offset: number): Cut | null {
    if (data.length - offset < ASIO_HEADER_LENGTH) return null
    const bodyLength = readAsioLength(data, offset)
    if (bodyLength === -1 || bodyLength > this.maxBody) {
      const shown = JSON.stringify(data.toString('latin1', offset, offset + ASIO_HEADER_LENGTH))
      return this.fail('bad-header', `bad asio header ${shown} (a length of 0-${this.maxBody} expected)`)
    }
    const end = offset + ASIO_HEADER_LENGTH + bodyLength
    return end > data.length ? null : { payload: data.subarray(offset + ASIO_HEADER_LENGTH, end), next: end }
  }
}

/** Frames one body. Longer bodies are refused, not cut: Asio's peers could not read them. */
export function encodeAsio(body: Buffer | string): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
  if (bytes.length > ASIO_MAX_BODY) {
    throw new RangeError(`asio body of ${bytes.length} bytes exceeds ${ASIO_MAX_BODY}`)
  }
  const frame = Buffer.allocUnsafe(ASIO_HEADER_LENGTH + bytes.length)
  frame.write(String(bytes.length).padStart(ASIO_HEADER_LENGTH, ' '), 0, 'latin1')
  bytes.copy(frame, ASIO_HEADER_LENGTH)
  return frame
}

export const asioCodec: Codec = {
  name: 'asio',
  createDecoder: (events, maxPayload) => new AsioDecoder(events, Math.min(maxPayload, ASIO_MAX_BODY)),
  encode: encodeAsio
}
