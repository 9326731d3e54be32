/**
 * Property tests (issue #7): the codecs and the command parser fed generated input. fast-check picks
 * a new seed each run and prints it, with the shrunk counterexample, when a property fails.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CODEC_NAMES, getCodec, type CodecName } from '../src/main/core/codec'
import { ASIO_HEADER_LENGTH, ASIO_MAX_BODY } from '../src/main/core/codec/asio'
import { MAX_HISTORY, MESSAGE_ID_PATTERN, NAME_PATTERN, parseCommand, type Command } from '../src/main/core/protocol/commands'

/**
 * What a decoder told its owner, in order. An error is kept by its code: the line decoder's detail says
 * how much of the long line had arrived ("line of 300+ bytes"), which depends on the split.
 */
type Event = { frame: Buffer } | { error: string }

/** Readable in a counterexample: frames as latin1 text. */
const show = (events: Event[]) =>
  events.map((e) => ('frame' in e ? JSON.stringify(e.frame.toString('latin1')) : `ERR ${e.error}`))

/** The most a decoder may hold between writes when it is not stopped: one frame short of complete. */
function holdLimit(codec: CodecName, maxPayload: number): number {
  // line: one byte of slack for a "\r" that may precede the "\n"; asio: a header and an unfinished body.
  return codec === 'line' ? maxPayload + 1 : ASIO_HEADER_LENGTH + Math.min(maxPayload, ASIO_MAX_BODY) - 1
}

/**
 * Feeds `chunks` to a fresh decoder and records what it emits. Checks on the way, whatever the input:
 * no throw, nothing after an error, at most one error, and no more held than one unfinished frame.
 */
function decodeAll(codec: CodecName, maxPayload: number, chunks: Buffer[]): Event[] {
  const events: Event[] = []
  let failed = false
  const decoder = getCodec(codec).createDecoder(
    {
      onFrame: (frame) => {
        if (failed) throw new Error('a frame after an error')
        events.push({ frame })
      },
      onError: (code) => {
        if (failed) throw new Error('a second error')
        failed = true
        events.push({ error: code })
      }
    },
    maxPayload
  )
  for (const chunk of chunks) {
    decoder.write(chunk)
    expect(decoder.buffered).toBeLessThanOrEqual(failed ? 0 : holdLimit(codec, maxPayload))
  }
  return events
}

/** The input cut at `cuts` (any numbers; taken modulo the length, so empty chunks happen too). */
function split(input: Buffer, cuts: number[]): Buffer[] {
  const points = cuts.map((cut) => cut % (input.length + 1)).sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let from = 0
  for (const point of [...points, input.length]) {
    chunks.push(input.subarray(from, point))
    from = point
  }
  return chunks
}

/** Bytes that print, in a counterexample, as code to paste into a reproduction. */
function readable(bytes: Buffer): Buffer {
  const text = `Buffer.from(${JSON.stringify(bytes.toString('latin1'))}, 'latin1')`
  return Object.defineProperty(bytes, fc.toStringMethod, { value: () => text })
}

const byteByByte = (input: Buffer) => Array.from({ length: input.length }, (_, i) => input.subarray(i, i + 1))

/**
 * Bytes for payloads that keep the line codec's framing intact: no "\n", and no "\r" at the end. Every
 * trailing "\r" goes: a payload of "\r\r" less one "\r" still ends in one.
 */
const lineSafePayload = (maxLength: number) =>
  fc
    .uint8Array({ maxLength })
    .map((bytes) => Buffer.from(bytes.map((b) => (b === 0x0a ? 0x41 : b))))
    .map((bytes) => {
      let end = bytes.length
      while (end > 0 && bytes[end - 1] === 0x0d) end--
      return bytes.subarray(0, end)
    })

/** A frame of the limit's size give or take a byte: a line ended by "\n", "\r\n", "\r" or nothing; an asio frame. */
function atTheLimit(codec: CodecName, frameLimit: number): fc.Arbitrary<Buffer> {
  const size = fc.integer({ min: Math.max(0, frameLimit - 1), max: frameLimit + 1 })
  if (codec === 'asio') {
    return size.map((n) => Buffer.concat([Buffer.from(String(n).padStart(ASIO_HEADER_LENGTH, ' ')), Buffer.alloc(n, 0x62)]))
  }
  return fc.tuple(size, fc.constantFrom('', '\n', '\r\n', '\r')).map(([n, end]) => Buffer.from('b'.repeat(n) + end, 'latin1'))
}

/**
 * Input that is neither all noise nor all valid: pieces of random bytes, bytes the framings care about,
 * whole valid frames and near-valid asio headers, so the decoders get past their first few bytes.
 */
function streamOf(codec: CodecName, maxPayload: number): fc.Arbitrary<Buffer> {
  const encode = getCodec(codec).encode
  const frameLimit = Math.min(maxPayload, codec === 'asio' ? ASIO_MAX_BODY : maxPayload)
  const valid = codec === 'line' ? lineSafePayload(frameLimit) : fc.uint8Array({ maxLength: frameLimit }).map((b) => Buffer.from(b))
  const tokens = ['\n', '\r', '\r\n', ' ', '0', '9', 'x', '   ', '\xff', '9999', '  -1', ' 513', '+  1']
  const piece = fc.oneof(
    fc.uint8Array({ maxLength: 24 }).map((bytes) => Buffer.from(bytes)),
    fc.constantFrom(...tokens.map((token) => Buffer.from(token, 'latin1'))),
    fc.nat({ max: maxPayload + 8 }).map((n) => Buffer.alloc(n, 0x61)),
    // Whole frames weigh most: one random byte in front of an asio header is the end of that stream.
    { arbitrary: valid.map((payload) => encode(payload)), weight: 6 },
    // Frames at the limit, one byte short of it and one past it, ended in every way.
    { arbitrary: atTheLimit(codec, frameLimit), weight: 2 },
    fc.tuple(fc.nat({ max: 9999 }), fc.constantFrom(' ', '0')).map(([n, pad]) => Buffer.from(String(n).padStart(4, pad), 'latin1'))
  )
  return fc.array(piece, { maxLength: 16 }).map((pieces) => readable(Buffer.concat(pieces)))
}

const codecName = fc.constantFrom(...CODEC_NAMES)
const randomBytes = fc.uint8Array({ maxLength: 600 }).map((bytes) => readable(Buffer.from(bytes)))
/** Small limits, 0 included, so that limit errors are common. */
const limit = fc.integer({ min: 0, max: 48 })
const cuts = fc.array(fc.nat(), { maxLength: 16 })

/** A case: a codec, its limit, and an input stream for it. */
const streamCase = fc
  .tuple(codecName, limit)
  .chain(([codec, maxPayload]) =>
    fc.record({ codec: fc.constant(codec), maxPayload: fc.constant(maxPayload), input: streamOf(codec, maxPayload) })
  )

describe('codecs, fed generated streams', () => {
  it('emit the same frames and the same error at the same point, fed whole, in random chunks or byte by byte', () => {
    fc.assert(
      fc.property(streamCase, cuts, ({ codec, maxPayload, input }, at) => {
        const whole = show(decodeAll(codec, maxPayload, [input]))
        expect(show(decodeAll(codec, maxPayload, split(input, at)))).toEqual(whole)
        expect(show(decodeAll(codec, maxPayload, byteByByte(input)))).toEqual(whole)
      }),
      { numRuns: 1000 }
    )
  })

  it('never throw on random bytes, whatever the split', () => {
    fc.assert(
      fc.property(codecName, limit, randomBytes, cuts, (codec, maxPayload, input, at) => {
        const whole = show(decodeAll(codec, maxPayload, [input]))
        expect(show(decodeAll(codec, maxPayload, split(input, at)))).toEqual(whole)
      }),
      { numRuns: 1000 }
    )
  })

  it('decode exactly the payloads that were encoded, in order, however the stream is cut', () => {
    const payload = (codec: CodecName, maxPayload: number) =>
      codec === 'line' ? lineSafePayload(maxPayload) : fc.uint8Array({ maxLength: Math.min(maxPayload, ASIO_MAX_BODY) })
    const encodedCase = fc
      .tuple(codecName, fc.integer({ min: 0, max: 600 }))
      .chain(([codec, maxPayload]) =>
        fc.tuple(fc.constant(codec), fc.constant(maxPayload), fc.array(payload(codec, maxPayload), { maxLength: 20 }))
      )
    fc.assert(
      fc.property(encodedCase, cuts, ([codec, maxPayload, sent], at) => {
        const { encode } = getCodec(codec)
        const input = Buffer.concat(sent.map((payload) => encode(Buffer.from(payload))))
        const expected = sent.map((payload) => JSON.stringify(Buffer.from(payload).toString('latin1')))
        expect(show(decodeAll(codec, maxPayload, split(input, at)))).toEqual(expected)
      }),
      { numRuns: 500 }
    )
  })

  it('give the same sequence when onFrame stops them at random frames and they are resumed at random points', () => {
    // For each write: whether to resume before it (if stopped); for each frame: whether to stop after it.
    const plan = fc.record({
      resumeBefore: fc.array(fc.boolean(), { maxLength: 20 }),
      stopAfter: fc.array(fc.boolean(), { maxLength: 40 })
    })
    fc.assert(
      fc.property(streamCase, cuts, plan, ({ codec, maxPayload, input }, at, { resumeBefore, stopAfter }) => {
        const expected = show(decodeAll(codec, maxPayload, [input]))
        const events: Event[] = []
        let stopped = false
        let failed = false
        const decoder = getCodec(codec).createDecoder(
          {
            onFrame: (frame) => {
              if (stopped) throw new Error('a frame while stopped')
              if (failed) throw new Error('a frame after an error')
              events.push({ frame })
              if (stopAfter[events.length % Math.max(1, stopAfter.length)]) {
                stopped = true
                return false
              }
              return true
            },
            onError: (code) => {
              if (stopped) throw new Error('an error while stopped')
              failed = true
              events.push({ error: code })
            }
          },
          maxPayload
        )
        const resume = () => {
          stopped = false
          const through = decoder.resume()
          // resume() says whether it got through what was held without being stopped again.
          expect(through).toBe(!stopped)
        }
        split(input, at).forEach((chunk, i) => {
          if (stopped && resumeBefore[i % Math.max(1, resumeBefore.length)]) resume()
          decoder.write(chunk)
        })
        // The rest of the stream is in; resume until the decoder gets through it all.
        for (let rounds = 0; stopped; rounds++) {
          if (rounds > input.length + 1) throw new Error('resume() never gets through')
          resume()
        }
        expect(show(events)).toEqual(expected)
      }),
      { numRuns: 1000 }
    )
  })
})

const VERBS = new Set(['NICK', 'JOIN', 'CHAT', 'WHO', 'PING', 'QUIT', 'HELP', 'CAP', 'HISTORY', 'RESUME', 'NOOP', 'ERR'])
/** The refusals the parser itself can make; the others (nick-taken, a decoder's, ...) come from elsewhere. */
const PARSER_ERRORS = new Set(['unknown-command', 'bad-argument', 'bad-encoding'])
const COMMAND_VERBS = ['NICK', 'JOIN', 'CHAT', 'WHO', 'PING', 'QUIT', 'HELP', 'CAP', 'HISTORY', 'RESUME']

/** A well-formed Command of a known verb, with arguments its verb allows. */
function checkShape(command: Command): void {
  expect(VERBS.has(command.verb)).toBe(true)
  switch (command.verb) {
    case 'NICK':
      return void expect(command.name).toMatch(NAME_PATTERN)
    case 'JOIN':
      return void expect(command.room).toMatch(NAME_PATTERN)
    case 'CHAT':
      return void expect(command.text.length).toBeGreaterThan(0)
    case 'PING':
      return void expect(typeof command.token).toBe('string')
    case 'QUIT':
      return void expect(typeof command.reason).toBe('string')
    case 'CAP':
      return void expect(command.cap).toBe('ids')
    case 'HISTORY':
      return void expect(command.count >= 1 && command.count <= MAX_HISTORY).toBe(true)
    case 'RESUME':
      expect(command.room).toMatch(NAME_PATTERN)
      return void expect(command.id).toMatch(MESSAGE_ID_PATTERN)
    case 'ERR':
      expect(PARSER_ERRORS.has(command.code)).toBe(true)
      return void expect(typeof command.text).toBe('string')
  }
}

const utf8 = (text: string) => Buffer.from(text, 'utf8')
/**
 * One character: often one a parser may trip on (spaces, controls, a BOM, multi-byte), else any code point.
 * Never "\r": a line that holds one is refused whatever else it says, so it has cases of its own.
 */
const char = fc.oneof(
  fc.constantFrom(' ', '\t', '\0', 'a', 'Z', '0', '-', '_', 'é', '€', '😀', '\u00a0', '\u2028', '\ufeff'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((c) => c !== '\r')
)
/** Any text without a lone surrogate, so that it survives UTF-8 both ways. */
const anyText = (constraints: { minLength?: number; maxLength?: number } = {}) =>
  fc.string({ unit: char, maxLength: 40, ...constraints })
const verbAs = (verb: string) => fc.mixedCase(fc.constant(verb))
const name = fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/)

/** A line and the command it must parse to. */
type Case = { line: Buffer; expected: Command }
const line = (text: string, expected: Command): Case => ({ line: utf8(text), expected })

const validCommands: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(verbAs('NICK'), name).map(([verb, n]) => line(`${verb} ${n}`, { verb: 'NICK', name: n })),
  fc.tuple(verbAs('JOIN'), name).map(([verb, n]) => line(`${verb} ${n}`, { verb: 'JOIN', room: n })),
  fc.tuple(verbAs('CHAT'), anyText({ minLength: 1 })).map(([verb, text]) => line(`${verb} ${text}`, { verb: 'CHAT', text })),
  fc.tuple(verbAs('WHO'), fc.constantFrom('', ' ')).map(([verb, space]) => line(`${verb}${space}`, { verb: 'WHO' })),
  fc.tuple(verbAs('HELP'), fc.constantFrom('', ' ')).map(([verb, space]) => line(`${verb}${space}`, { verb: 'HELP' })),
  fc.tuple(verbAs('PING'), fc.option(anyText())).map(([verb, token]) =>
    line(token === null ? verb : `${verb} ${token}`, { verb: 'PING', token: token ?? '' })
  ),
  fc.tuple(verbAs('QUIT'), fc.option(anyText())).map(([verb, reason]) =>
    line(reason === null ? verb : `${verb} ${reason}`, { verb: 'QUIT', reason: reason ?? '' })
  ),
  fc.constant(line('', { verb: 'NOOP' })),
  fc.tuple(verbAs('CAP'), fc.mixedCase(fc.constant('ids'))).map(([verb, cap]) => line(`${verb} ${cap}`, { verb: 'CAP', cap: 'ids' })),
  fc.tuple(verbAs('HISTORY'), fc.integer({ min: 1, max: MAX_HISTORY })).map(([verb, count]) => line(`${verb} ${count}`, { verb: 'HISTORY', count })),
  fc
    .tuple(verbAs('RESUME'), name, fc.stringMatching(/^[0-9a-z.-]{1,64}$/))
    .map(([verb, room, id]) => line(`${verb} ${room} ${id}`, { verb: 'RESUME', room, id }))
)

/** A byte that is never UTF-8, an overlong form, a lone continuation, a surrogate, past U+10FFFF, a cut-short sequence. */
const notUtf8 = fc.constantFrom([0xff], [0xc0, 0x80], [0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82])

/** Lines that must be refused, with the code they must be refused with (the text is free). */
const refusedCommands: fc.Arbitrary<{ line: Buffer; code: string }> = fc.oneof(
  fc
    .tuple(fc.oneof(verbAs('NICK'), verbAs('JOIN')), fc.option(anyText()))
    .filter(([, arg]) => arg === null || !NAME_PATTERN.test(arg))
    .map(([verb, arg]) => ({ line: utf8(arg === null ? verb : `${verb} ${arg}`), code: 'bad-argument' })),
  fc.constantFrom('CHAT', 'CHAT ').map((text) => ({ line: utf8(text), code: 'bad-argument' })),
  fc.tuple(fc.constantFrom('WHO', 'HELP'), anyText({ minLength: 1 })).map(([verb, arg]) => ({ line: utf8(`${verb} ${arg}`), code: 'bad-argument' })),
  fc.constantFrom('CAP', 'CAP tags', 'HISTORY', 'HISTORY 0', `HISTORY ${MAX_HISTORY + 1}`, 'HISTORY -1', 'HISTORY 1.5', 'RESUME', 'RESUME lobby', 'RESUME lobby a b', 'RESUME lo@by 1', 'RESUME lobby ID')
    .map((text) => ({ line: utf8(text), code: 'bad-argument' })),
  fc
    .tuple(anyText({ minLength: 1 }), fc.option(anyText()))
    .filter(([verb]) => !verb.includes(' ') && !COMMAND_VERBS.includes(verb.toUpperCase()))
    .map(([verb, arg]) => ({ line: utf8(arg === null ? verb : `${verb} ${arg}`), code: 'unknown-command' })),
  // A "\r" anywhere, the verb's place included: the line codec took the only one a line may end in.
  fc
    .tuple(validCommands, fc.nat(), fc.constantFrom('\r', '\r\r', ' \r'))
    .map(([{ line }, at, cr]) => {
      const text = line.toString('utf8')
      const cut = [...text].slice(0, at % (text.length + 1)).join('')
      return { line: utf8(cut + cr + text.slice(cut.length)), code: 'bad-argument' }
    }),
  fc
    .tuple(anyText(), notUtf8, anyText())
    .map(([before, bad, after]) => ({ line: Buffer.concat([utf8(before), Buffer.from(bad), utf8(after)]), code: 'bad-encoding' }))
)

describe('parseCommand, fed generated lines', () => {
  it('never throws on random bytes, returns a well-formed command, and leaves its input alone', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 80 }),
      // Random bytes after a real verb, so the argument checks see noise too.
      fc
        .tuple(fc.constantFrom(...COMMAND_VERBS), fc.uint8Array({ maxLength: 40 }))
        .map(([verb, rest]) => new Uint8Array([...utf8(`${verb} `), ...rest]))
    )
    fc.assert(
      fc.property(bytes, (input) => {
        const before = Buffer.from(input)
        const command = parseCommand(input)
        checkShape(command)
        expect(Buffer.from(input)).toEqual(before)
        expect(parseCommand(input)).toEqual(command)
        // Refused as bad encoding exactly when the bytes are not UTF-8.
        const valid = (() => {
          try {
            new TextDecoder('utf-8', { fatal: true }).decode(input)
            return true
          } catch {
            return false
          }
        })()
        expect(command.verb === 'ERR' && command.code === 'bad-encoding').toBe(!valid)
      }),
      { numRuns: 1000 }
    )
  })

  it('parses generated valid commands, any case of verb, to exactly the command', () => {
    fc.assert(
      fc.property(validCommands, ({ line, expected }) => {
        expect(parseCommand(line)).toEqual(expected)
      }),
      { numRuns: 1000 }
    )
  })

  it('refuses generated bad lines with the right code', () => {
    fc.assert(
      fc.property(refusedCommands, ({ line, code }) => {
        const command = parseCommand(line)
        checkShape(command)
        expect(command).toMatchObject({ verb: 'ERR', code })
      }),
      { numRuns: 1000 }
    )
  })
})
