import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { keys } from '../src/main/core/cluster/keys'
import { entryFields, parseEntry, type NewEntry } from '../src/main/core/cluster/room-entry'
import { SeqGuard } from '../src/main/core/cluster/seq-guard'
import { compareIds, idBefore } from '../src/main/core/cluster/stream-id'

const streamId = fc.tuple(fc.nat({ max: 2 ** 45 }), fc.nat({ max: 2 ** 40 })).map(([ms, seq]) => `${ms}-${seq}`)

describe('stream IDs', () => {
  it('compare as numbers, time first, then sequence', () => {
    expect(compareIds('9-0', '10-0')).toBeLessThan(0)
    expect(compareIds('10-2', '10-10')).toBeLessThan(0)
    expect(compareIds('10-10', '10-10')).toBe(0)
    fc.assert(
      fc.property(streamId, streamId, (a, b) => {
        const [aMs, aSeq] = a.split('-').map(Number)
        const [bMs, bSeq] = b.split('-').map(Number)
        expect(Math.sign(compareIds(a, b))).toBe(Math.sign(aMs - bMs || aSeq - bSeq))
      })
    )
  })

  it('have a predecessor that nothing fits between, so a read from it starts at the ID itself', () => {
    expect(idBefore('5-3')).toBe('5-2')
    expect(idBefore('5-0')).toBe('4-18446744073709551615')
    fc.assert(
      fc.property(streamId, streamId, (id, other) => {
        expect(compareIds(idBefore(id), id)).toBeLessThan(0)
        if (compareIds(other, id) < 0) expect(compareIds(other, idBefore(id))).toBeLessThanOrEqual(0)
      })
    )
  })
})

describe('room stream entries', () => {
  const text = fc.string({ minLength: 1, maxLength: 40 })
  const base = { origin: text, seq: fc.integer({ min: 1, max: 1e9 }) }
  const about = { ...base, subject: text, nick: text }
  // A nick has no space; a text (what followed CHAT on its line) no line break.
  const message = fc.record({ nick: text.filter((nick) => !/[ \n]/.test(nick)), text: fc.string({ maxLength: 40 }).filter((line) => !line.includes('\n')) })
  const entry: fc.Arbitrary<NewEntry> = fc.oneof(
    fc.record({ ...base, kind: fc.constant('msgs' as const), messages: fc.array(message, { minLength: 1, maxLength: 5 }) }),
    fc.record({ ...about, kind: fc.constantFrom('joined' as const, 'left' as const), at: fc.nat() }),
    fc.record({ ...about, kind: fc.constant('nick' as const), previous: text })
  )

  it('read back as they were written, with the room size the append script adds', () => {
    fc.assert(
      fc.property(entry, fc.nat(), (written, count) => {
        // The append script puts `c` first, as XADD then stores it.
        const stored = written.kind === 'msgs' ? entryFields(written) : ['c', String(count), ...entryFields(written)]
        expect(parseEntry(stored)).toEqual(written.kind === 'msgs' ? written : { ...written, count })
      })
    )
  })

  it('keep a turn of messages as lines a person can read in redis-cli', () => {
    const messages = [{ nick: 'alice', text: 'hi all' }, { nick: 'bob', text: 'hey' }]
    expect(entryFields({ kind: 'msgs', origin: 'a.1', seq: 3, messages })).toEqual(['k', 'msgs', 'o', 'a.1', 'q', '3', 'm', 'alice hi all\nbob hey'])
  })

  it('are refused when a field is missing or unknown, not guessed at', () => {
    const fields = entryFields({ kind: 'nick', origin: 'a.1', seq: 1, subject: 'a.1/1', nick: 'n', previous: 'p' })
    for (const name of ['k', 'o', 'q', 's', 'n', 'p']) {
      const at = fields.indexOf(name)
      expect(parseEntry(['c', '1', ...fields.slice(0, at), ...fields.slice(at + 2)])).toBeNull()
    }
    expect(parseEntry(['c', '1', 'k', 'shout', ...fields.slice(2)])).toBeNull()
    expect(parseEntry(['k', 'joined', ...fields.slice(2)])).toBeNull() // no room size
    const msgs = ['k', 'msgs', 'o', 'a.1', 'q', '2']
    expect(parseEntry(msgs)).toBeNull() // no messages
    for (const lines of ['alice', ' hi', 'alice hi\n', 'alice hi\nbob']) expect(parseEntry([...msgs, 'm', lines])).toBeNull()
  })
})

describe('room keys', () => {
  it('name a room’s stream so that its room can be read back from the key', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 32 }), (room) => {
        expect(keys.roomOfLog(keys.roomLog(room))).toBe(room)
      })
    )
  })
})

describe('SeqGuard', () => {
  it('drops a second copy, counts a gap, and takes an origin’s first entry as its baseline', () => {
    const guard = new SeqGuard()
    expect(guard.check('a', 7)).toEqual({ fresh: true, missed: 0 })
    expect(guard.check('a', 8)).toEqual({ fresh: true, missed: 0 })
    expect(guard.check('a', 8)).toEqual({ fresh: false })
    expect(guard.check('a', 5)).toEqual({ fresh: false })
    expect(guard.check('b', 1)).toEqual({ fresh: true, missed: 0 })
    expect(guard.check('a', 12)).toEqual({ fresh: true, missed: 3 })
  })
})
