import { describe, expect, it } from 'vitest'
import { LineDecoder, lineCodec } from '../src/main/core/codec/line'

function decode(input: Buffer, maxLine = 16, byteByByte = false) {
  const frames: string[] = []
  const errors: string[] = []
  const decoder = new LineDecoder(
    { onFrame: (frame) => void frames.push(frame.toString('latin1')), onError: (code) => void errors.push(code) },
    maxLine
  )
  if (byteByByte) for (let i = 0; i < input.length; i++) decoder.write(input.subarray(i, i + 1))
  else decoder.write(input)
  return { frames, errors, buffered: decoder.buffered }
}

// Every case runs twice, as node-redis tests its decoder: the whole input at once, and byte by byte.
describe.each([
  ['whole', false],
  ['byte by byte', true]
])('LineDecoder (%s)', (_, byteByByte) => {
  it('splits lines on \\n and drops a \\r before it', () => {
    const { frames, buffered } = decode(Buffer.from('NICK bob\r\nCHAT hi there\nWHO\n'), 16, byteByByte)
    expect(frames).toEqual(['NICK bob', 'CHAT hi there', 'WHO'])
    expect(buffered).toBe(0)
  })

  it('keeps an unfinished line until its end arrives', () => {
    const { frames, buffered } = decode(Buffer.from('PING 1\nPING'), 16, byteByByte)
    expect(frames).toEqual(['PING 1'])
    expect(buffered).toBe(4)
  })

  it('passes empty lines and a lone \\r through as empty frames', () => {
    expect(decode(Buffer.from('\n\r\nA\n'), 16, byteByByte).frames).toEqual(['', '', 'A'])
  })

  it('keeps a \\r that is not at the end of the line', () => {
    expect(decode(Buffer.from('a\rb\n'), 16, byteByByte).frames).toEqual(['a\rb'])
  })

  it('accepts a line of exactly the limit, with or without \\r', () => {
    const line = 'x'.repeat(16)
    expect(decode(Buffer.from(`${line}\n${line}\r\n`), 16, byteByByte).frames).toEqual([line, line])
  })

  it('fails a line over the limit, and takes nothing after it', () => {
    const { frames, errors } = decode(Buffer.from(`ok\n${'y'.repeat(17)}\nafter\n`), 16, byteByByte)
    expect(frames).toEqual(['ok'])
    expect(errors).toEqual(['line-too-long'])
  })

  it('fails an endless line before its end arrives, without buffering it all', () => {
    const { frames, errors, buffered } = decode(Buffer.alloc(1000, 0x41), 16, byteByByte)
    expect(frames).toEqual([])
    expect(errors).toEqual(['line-too-long'])
    expect(buffered).toBe(0)
  })

  it('passes bytes through untouched, UTF-8 or not', () => {
    const input = Buffer.concat([Buffer.from('é€'), Buffer.from([0xff, 0xfe, 0x0a])])
    const frames: Buffer[] = []
    const decoder = new LineDecoder({ onFrame: (f) => void frames.push(Buffer.from(f)), onError: () => {} }, 16)
    if (byteByByte) for (const byte of input) decoder.write(Buffer.from([byte]))
    else decoder.write(input)
    expect(Buffer.concat(frames)).toEqual(input.subarray(0, input.length - 1))
  })
})

describe.each([
  ['whole', false],
  ['byte by byte', true]
])('LineDecoder stopped by its owner (%s)', (_, byteByByte) => {
  it('stops after the frame it was told to, keeps the rest undecoded, and resumes where it stopped', () => {
    const frames: string[] = []
    let stopAfter = 'B'
    const decoder = new LineDecoder({ onFrame: (f) => (frames.push(f.toString()), f.toString() !== stopAfter), onError: () => {} }, 16)
    const input = Buffer.from('A\nB\nC\nD\nE')
    if (byteByByte) for (const byte of input) decoder.write(Buffer.from([byte]))
    else decoder.write(input)
    expect(frames).toEqual(['A', 'B'])
    stopAfter = 'D'
    expect(decoder.resume()).toBe(false)
    expect(frames).toEqual(['A', 'B', 'C', 'D'])
    expect(decoder.resume()).toBe(true)
    decoder.write(Buffer.from('\n'))
    expect(frames).toEqual(['A', 'B', 'C', 'D', 'E'])
  })
})

describe('lineCodec.encode', () => {
  it('terminates text and bytes with \\n', () => {
    expect(lineCodec.encode('MSG lobby bob hi')).toEqual(Buffer.from('MSG lobby bob hi\n'))
    expect(lineCodec.encode(Buffer.from('é'))).toEqual(Buffer.from('é\n'))
  })
})
