import { describe, expect, it } from 'vitest'
import { parseCommand } from '../src/main/core/protocol/commands'

const parse = (text: string) => parseCommand(Buffer.from(text, 'utf8'))

describe('parseCommand', () => {
  it('parses every verb, case-insensitively', () => {
    expect(parse('NICK bob_1')).toEqual({ verb: 'NICK', name: 'bob_1' })
    expect(parse('nick Bob')).toEqual({ verb: 'NICK', name: 'Bob' })
    expect(parse('Join room-2')).toEqual({ verb: 'JOIN', room: 'room-2' })
    expect(parse('chat hello  world ')).toEqual({ verb: 'CHAT', text: 'hello  world ' })
    expect(parse('WHO')).toEqual({ verb: 'WHO' })
    expect(parse('PING')).toEqual({ verb: 'PING', token: '' })
    expect(parse('ping abc 123')).toEqual({ verb: 'PING', token: 'abc 123' })
    expect(parse('QUIT')).toEqual({ verb: 'QUIT', reason: '' })
    expect(parse('QUIT gone home')).toEqual({ verb: 'QUIT', reason: 'gone home' })
    expect(parse('help')).toEqual({ verb: 'HELP' })
  })

  it('keeps UTF-8 text whole', () => {
    expect(parse('CHAT héllo € 😀')).toEqual({ verb: 'CHAT', text: 'héllo € 😀' })
  })

  it('treats an empty line as nothing to do', () => {
    expect(parse('')).toEqual({ verb: 'NOOP' })
  })

  it.each([
    ['NICK', 'bad-argument'],
    ['NICK two words', 'bad-argument'],
    ['NICK ' + 'a'.repeat(33), 'bad-argument'],
    ['NICK bad!name', 'bad-argument'],
    ['JOIN', 'bad-argument'],
    ['JOIN #room', 'bad-argument'],
    ['CHAT', 'bad-argument'],
    ['CHAT ', 'bad-argument'],
    ['WHO me', 'bad-argument'],
    ['HELP me', 'bad-argument'],
    ['HELLO', 'unknown-command'],
    [' CHAT x', 'unknown-command'],
    ['CHAT hi\r', 'bad-argument'],
    ['CHAT a\rb', 'bad-argument'],
    ['\r', 'bad-argument']
  ])('refuses %j with %s', (line, code) => {
    expect(parse(line)).toMatchObject({ verb: 'ERR', code })
  })

  it('accepts a name of exactly 32 characters', () => {
    expect(parse('NICK ' + 'a'.repeat(32))).toEqual({ verb: 'NICK', name: 'a'.repeat(32) })
  })

  it('refuses invalid UTF-8', () => {
    expect(parseCommand(Buffer.from([0x43, 0x48, 0x41, 0x54, 0x20, 0xc3, 0x28]))).toMatchObject({
      verb: 'ERR',
      code: 'bad-encoding'
    })
  })

  it('quotes an unknown verb in the error, cut short', () => {
    const refusal = parse('X'.repeat(100))
    expect(refusal).toMatchObject({ verb: 'ERR', code: 'unknown-command' })
    expect(refusal.verb === 'ERR' && refusal.text.length).toBeLessThan(60)
  })
})
