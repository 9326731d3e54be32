import { describe, expect, it } from 'vitest'
import { ASIO_MAX_BODY, AsioDecoder, encodeAsio } from '../src/main/core/codec/asio'

function decode(input: Buffer, byteByByte: boolean) {
  const bodies: string[] = []
  const errors: string[] = []
  const decoder = new AsioDecoder({
    onFrame: (body) => void bodies.push(body.toString('latin1')),
    onError: (code, detail) => void errors.push(`${code}: ${detail}`)
  })
  if (byteByByte) for (let i = 0; i < input.length; i++) decoder.write(input.subarray(i, i + 1))
  else decoder.write(input)
  return { bodies, errors, buffered: decoder.buffered }
}

describe.each([
  ['whole', false],
  ['byte by byte', true]
])('AsioDecoder (%s)', (_, byteByByte) => {
  it('reads "%4d" headers and their bodies', () => {
    const { bodies, errors, buffered } = decode(Buffer.from('   5hello   0  11hello world'), byteByByte)
    expect(bodies).toEqual(['hello', '', 'hello world'])
    expect(errors).toEqual([])
    expect(buffered).toBe(0)
  })

  it('keeps a partial frame until the rest arrives', () => {
    const { bodies, buffered } = decode(Buffer.from('   3abc   5he'), byteByByte)
    expect(bodies).toEqual(['abc'])
    expect(buffered).toBe(6)
  })

  it('takes a body of exactly 512 bytes and any bytes in it', () => {
    const body = Buffer.alloc(ASIO_MAX_BODY, 0x0a)
    const { bodies } = decode(Buffer.concat([Buffer.from(' 512'), body]), byteByByte)
    expect(bodies).toEqual([body.toString('latin1')])
  })

  it('takes zero-padded headers, which atoi() reads as numbers too', () => {
    expect(decode(Buffer.from('0002hi'), byteByByte).bodies).toEqual(['hi'])
  })

  it.each([
    [' 513', 'over 512'],
    ['abcd', 'not a number'],
    ['  -1', 'negative'],
    ['12  ', 'left-aligned'],
    ['    ', 'blank']
  ])('fails header %j (%s) and takes nothing after it', (header) => {
    const { bodies, errors } = decode(Buffer.from(`   2ok${header}xx   2ok`), byteByByte)
    expect(bodies).toEqual(['ok'])
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/^bad-header: /)
  })
})

describe('AsioDecoder stopped by its owner', () => {
  it('stops after the frame it was told to and resumes where it stopped', () => {
    const bodies: string[] = []
    const decoder = new AsioDecoder({ onFrame: (b) => (bodies.push(b.toString()), b.toString() !== 'two'), onError: () => {} })
    decoder.write(Buffer.concat([encodeAsio('one'), encodeAsio('two'), encodeAsio('three')]))
    expect(bodies).toEqual(['one', 'two'])
    expect(decoder.buffered).toBe(4 + 'three'.length)
    expect(decoder.resume()).toBe(true)
    expect(bodies).toEqual(['one', 'two', 'three'])
    expect(decoder.buffered).toBe(0)
  })
})

describe('encodeAsio', () => {
  it('writes a right-aligned, space-padded length header', () => {
    expect(encodeAsio('hello').toString('latin1')).toBe('   5hello')
    expect(encodeAsio(Buffer.alloc(0)).toString('latin1')).toBe('   0')
    expect(encodeAsio(Buffer.alloc(512, 0x61)).subarray(0, 4).toString('latin1')).toBe(' 512')
  })

  it('refuses a body Asio peers could not read', () => {
    expect(() => encodeAsio(Buffer.alloc(513))).toThrow(RangeError)
  })

  it('round-trips through the decoder', () => {
    const bodies = ['a', 'é€', 'x'.repeat(512)]
    const { bodies: out } = decode(Buffer.concat(bodies.map((b) => encodeAsio(b))), false)
    expect(out.map((b) => Buffer.from(b, 'latin1').toString('utf8'))).toEqual(bodies)
  })
})
