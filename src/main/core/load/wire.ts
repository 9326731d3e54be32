import { ASIO_HEADER_LENGTH, encodeAsio } from '../codec/asio'
import { lineCodec } from '../codec/line'
import type { CodecName } from '../codec'

const ZERO = 0x30
const DASH = 0x2d
const PAD = 0x2e // '.': no space, so a line's text is never split, and nothing any codec treats as special
/** First byte of the asio barrier body; a tag starts with a digit, so the two cannot be confused. */
export const SYNC_MARK = 0x21 // '!'

function digitsFor(count: number): number {
  return String(Math.max(0, count - 1)).length
}

/** Bytes a tag takes: the sender's index and the message's sequence number, zero-padded, joined by '-'. */
export function tagLength(clients: number, messages: number): number {
  return digitsFor(clients) + 1 + digitsFor(messages)
}

function writeDigits(target: Buffer, at: number, width: number, value: number): void {
  for (let i = at + width - 1; i >= at; i--) {
    target[i] = ZERO + (value % 10)
    value = Math.floor(value / 10)
  }
}

/** A whole number from `width` ASCII digits, or -1 if any byte is not a digit. */
function readDigits(source: Uint8Array, at: number, width: number): number {
  let value = 0
  for (let i = at; i < at + width; i++) {
    const digit = source[i] - ZERO
    if (digit < 0 || digit > 9) return -1
    value = value * 10 + digit
  }
  return value
}

/**
 * Where the tag sits in a body of `size` bytes: `<client>-<seq>` at its start, then padding.
 * Fixed widths, so a receiver reads the tag in place, without a string or a search.
 */
export class TagLayout {
  readonly clientDigits: number
  readonly seqDigits: number

  constructor(
    clients: number,
    messages: number,
    readonly size: number
  ) {
    this.clientDigits = digitsFor(clients)
    this.seqDigits = digitsFor(messages)
  }

  get seqOffset(): number {
    return this.clientDigits + 1
  }

  /** The sender's index of the body at `at`, or -1 if it carries no tag. */
  readClient(source: Uint8Array, at: number): number {
    return source[at + this.clientDigits] === DASH ? readDigits(source, at, this.clientDigits) : -1
  }

  readSeq(source: Uint8Array, at: number): number {
    return readDigits(source, at + this.seqOffset, this.seqDigits)
  }

  /** A body of padding alone, its first byte set to `first`. */
  private blank(first: number): Buffer {
    const body = Buffer.alloc(this.size, PAD)
    body[0] = first
    return body
  }

  /**
   * The body the first client sends once, so each client learns it is in the room (asio has no
   * WELCOME). It carries a nonce: an earlier run's barrier, replayed from the room's history, must
   * not open this one.
   */
  syncBody(nonce: number): Buffer {
    const body = this.blank(SYNC_MARK)
    body.write((nonce >>> 0).toString(16).padStart(8, '0'), 1, Math.min(8, this.size - 1), 'latin1')
    return body
  }

  /** Client `client`'s body with sequence number 0. */
  body(client: number): Buffer {
    const body = this.blank(ZERO)
    writeDigits(body, 0, this.clientDigits, client)
    body[this.clientDigits] = DASH
    writeDigits(body, this.seqOffset, this.seqDigits, 0)
    return body
  }
}

const CHAT = Buffer.from('CHAT ', 'latin1')

/** Wraps a body as the codec puts it on the wire: `%4d` header, or `CHAT <body>\n`. */
export function frameOf(codec: CodecName, body: Buffer): { frame: Buffer; bodyAt: number } {
  if (codec === 'asio') return { frame: encodeAsio(body), bodyAt: ASIO_HEADER_LENGTH }
  return { frame: lineCodec.encode(Buffer.concat([CHAT, body])), bodyAt: CHAT.length }
}

/**
 * One client's outgoing frames: a template copied once per message, with only the sequence digits
 * rewritten, so a burst of messages becomes one Buffer and one socket write.
 */
export class FrameWriter {
  private readonly template: Buffer
  private readonly seqAt: number

  constructor(
    codec: CodecName,
    private readonly layout: TagLayout,
    client: number
  ) {
    const { frame, bodyAt } = frameOf(codec, layout.body(client))
    this.template = frame
    this.seqAt = bodyAt + layout.seqOffset
  }

  /** Frames for sequence numbers first .. first + count - 1, back to back. */
  frames(first: number, count: number): Buffer {
    const length = this.template.length
    const out = Buffer.allocUnsafe(length * count)
    for (let i = 0; i < count; i++) {
      const at = i * length
      this.template.copy(out, at)
      writeDigits(out, at + this.seqAt, this.layout.seqDigits, first + i)
    }
    return out
  }
}
