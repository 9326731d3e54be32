import { describe, expect, it } from 'vitest'
import { RoomFeed } from '../src/main/core/cluster/room-feed'
import { Seat } from '../src/main/core/cluster/seat'
import { entryFields, type NewEntry } from '../src/main/core/cluster/room-entry'
import type { StreamEntry } from '../src/main/core/cluster/stream-reader'

/** A local session as the feed sees it: what it was sent, as lines. */
function listener() {
  const lines: string[] = []
  const take = (frame: Buffer) => lines.push(...frame.toString().split('\n').filter(Boolean))
  return { lines, send: take, sendLazily: take }
}

/**
 * A stream entry as the append script writes it: presence entries carry the room's size after the change,
 * and when their node took them (`at`, by default the entry's own time: not late).
 */
let clock = 1_000_000
function entry(fields: { kind: NewEntry['kind']; count?: number; at?: number; [field: string]: unknown }): StreamEntry {
  const { count, ...draft } = fields
  const pairs = entryFields({ at: clock, ...draft } as NewEntry)
  if (count !== undefined) pairs.push('c', String(count))
  return [`${clock++}-0`, pairs]
}

const ALICE = 'run-a/1'
const BOB = 'run-b/7'

/** The room's stream in a scenario: bob is in, alice (local) joins, they talk, bob renames, alice leaves. */
function scenario(): StreamEntry[] {
  return [
    entry({ kind: 'msgs', origin: 'b', seq: 1, messages: [{ nick: 'bob', text: 'before alice' }] }),
    entry({ kind: 'joined', origin: 'a', seq: 1, subject: ALICE, nick: 'alice', count: 2 }),
    entry({ kind: 'msgs', origin: 'b', seq: 2, messages: [{ nick: 'bob', text: 'hi alice' }] }),
    entry({ kind: 'nick', origin: 'b', seq: 3, subject: BOB, nick: 'robert', previous: 'bob', count: 2 }),
    entry({ kind: 'msgs', origin: 'a', seq: 2, messages: [{ nick: 'alice', text: 'bye' }] }),
    entry({ kind: 'left', origin: 'a', seq: 3, subject: ALICE, nick: 'alice', count: 1 }),
    entry({ kind: 'msgs', origin: 'b', seq: 4, messages: [{ nick: 'robert', text: 'after alice' }] })
  ]
}

const HEARD = ['JOINED r alice', 'MSG r bob hi alice', 'NICK bob robert', 'MSG r alice bye', 'LEFT r alice']

describe('RoomFeed', () => {
  it('gives a local joiner the room from its own JOINED to its own LEFT, fed whole', () => {
    const feed = new RoomFeed('r', 100)
    const alice = listener()
    feed.expect(ALICE, alice)
    expect(feed.idle).toBe(false)
    expect(feed.feed(scenario())).toEqual({ fresh: 7, duplicates: 0, missed: 0 })
    expect(alice.lines).toEqual(HEARD)
    expect(feed.members).toBe(0)
    expect(feed.idle).toBe(true)
  })

  it('delivers the same fed entry by entry', () => {
    const feed = new RoomFeed('r', 100)
    const alice = listener()
    feed.expect(ALICE, alice)
    for (const one of scenario()) feed.feed([one])
    expect(alice.lines).toEqual(HEARD)
  })

  it('drops a second copy of an entry and counts the entries an origin skipped', () => {
    const feed = new RoomFeed('r', 100)
    const alice = listener()
    feed.expect(ALICE, alice)
    const [joined, msg] = [entry({ kind: 'joined', origin: 'a', seq: 1, subject: ALICE, nick: 'alice', count: 1 }), entry({ kind: 'msgs', origin: 'b', seq: 1, messages: [{ nick: 'bob', text: 'one' }] })]
    const again: StreamEntry = [`${clock++}-0`, msg[1]]
    const jump = entry({ kind: 'msgs', origin: 'b', seq: 5, messages: [{ nick: 'bob', text: 'five' }] })
    expect(feed.feed([joined, msg, again, jump])).toEqual({ fresh: 3, duplicates: 1, missed: 3 })
    expect(alice.lines).toEqual(['JOINED r alice', 'MSG r bob one', 'MSG r bob five'])
  })

  it('frames a turn of messages once: every member is sent the same buffer, counted as that many messages', () => {
    const feed = new RoomFeed('r', 100)
    const sent: { to: string; frame: Buffer; messages: number | undefined }[] = []
    const member = (to: string) => ({ send: (frame: Buffer, messages?: number) => sent.push({ to, frame, messages }), sendLazily: () => {} })
    feed.expect(ALICE, member('alice'))
    feed.expect(BOB, member('bob'))
    feed.feed([
      entry({ kind: 'joined', origin: 'a', seq: 1, subject: ALICE, nick: 'alice', count: 1 }),
      entry({ kind: 'joined', origin: 'b', seq: 1, subject: BOB, nick: 'bob', count: 2 })
    ])
    sent.length = 0
    feed.feed([entry({ kind: 'msgs', origin: 'b', seq: 2, messages: [{ nick: 'bob', text: 'one' }, { nick: 'carol', text: 'two two' }, { nick: 'bob', text: 'three' }] })])
    expect(sent.map(({ to, messages }) => [to, messages])).toEqual([['alice', 3], ['bob', 3]])
    expect(sent[1].frame).toBe(sent[0].frame)
    expect(sent[0].frame.toString()).toBe('MSG r bob one\nMSG r carol two two\nMSG r bob three\n')
  })

  it('tags the messages of members that asked for ids with `<entry ID>.<index>`, and frames them only for those', () => {
    const feed = new RoomFeed('r', 100)
    const sent: { to: string; frame: Buffer }[] = []
    const member = (to: string, tagged: boolean) => ({ tagged, send: (frame: Buffer) => sent.push({ to, frame }), sendLazily: () => {} })
    feed.expect(ALICE, member('alice', true))
    feed.expect(BOB, member('bob', false))
    const one = entry({ kind: 'msgs', origin: 'b', seq: 2, messages: [{ nick: 'bob', text: 'one' }, { nick: 'bob', text: 'two' }] })
    const three = entry({ kind: 'msgs', origin: 'b', seq: 3, messages: [{ nick: 'bob', text: 'three' }] })
    feed.feed([
      entry({ kind: 'joined', origin: 'a', seq: 1, subject: ALICE, nick: 'alice', count: 1 }),
      entry({ kind: 'joined', origin: 'b', seq: 1, subject: BOB, nick: 'bob', count: 2 })
    ])
    sent.length = 0
    feed.feed([one, three])
    expect(sent.map(({ to, frame }) => [to, frame.toString()])).toEqual([
      ['alice', `@id=${one[0]}.0 MSG r bob one\n@id=${one[0]}.1 MSG r bob two\n@id=${three[0]}.0 MSG r bob three\n`],
      ['bob', 'MSG r bob one\nMSG r bob two\nMSG r bob three\n']
    ])
  })

  it('holds what the room sends a seat after its JOINED until the replay is released, which goes first', () => {
    const feed = new RoomFeed('r', 100)
    const alice = listener()
    const seat = new Seat(alice)
    seat.holdFromEntry()
    feed.expect(ALICE, seat)
    feed.feed([
      entry({ kind: 'msgs', origin: 'b', seq: 1, messages: [{ nick: 'bob', text: 'before' }] }),
      entry({ kind: 'joined', origin: 'a', seq: 1, subject: ALICE, nick: 'alice', count: 2 }),
      entry({ kind: 'msgs', origin: 'b', seq: 2, messages: [{ nick: 'bob', text: 'after' }] })
    ])
    feed.feed([entry({ kind: 'nick', origin: 'b', seq: 3, subject: BOB, nick: 'robert', previous: 'bob', count: 2 })])
    expect(alice.lines).toEqual(['JOINED r alice'])
    seat.release(Buffer.from('MSG r bob before\nRESUME-END r 1\n'), 1)
    expect(alice.lines).toEqual(['JOINED r alice', 'MSG r bob before', 'RESUME-END r 1', 'MSG r bob after', 'NICK bob robert'])
    // Released, it holds nothing more.
    feed.feed([entry({ kind: 'msgs', origin: 'b', seq: 4, messages: [{ nick: 'robert', text: 'live' }] })])
    expect(alice.lines.at(-1)).toBe('MSG r robert live')
  })

  it('holds what the room sends a seat already in it from hold() on, and sends the replay before it', () => {
    const feed = new RoomFeed('r', 100)
    const alice = listener()
    const seat = new Seat(alice)
    feed.expect(ALICE, seat)
    feed.feed([entry({ kind: 'joined', origin: 'a', seq: 1, subject: ALICE, nick: 'alice', count: 1 })])
    seat.hold()
    feed.feed([entry({ kind: 'msgs', origin: 'b', seq: 1, messages: [{ nick: 'bob', text: 'live' }] })])
    expect(alice.lines).toEqual(['JOINED r alice'])
    seat.release(Buffer.from('MSG r bob replayed\nRESUME-END r 1\n'), 1)
    expect(alice.lines).toEqual(['JOINED r alice', 'MSG r bob replayed', 'RESUME-END r 1', 'MSG r bob live'])
  })

  it('tells presence only to the session concerned above the presence limit', () => {
    const feed = new RoomFeed('r', 1)
    const [alice, bob] = [listener(), listener()]
    feed.expect(ALICE, alice)
    feed.expect(BOB, bob)
    feed.feed([
      entry({ kind: 'joined', origin: 'a', seq: 1, subject: ALICE, nick: 'alice', count: 1 }),
      entry({ kind: 'joined', origin: 'b', seq: 1, subject: BOB, nick: 'bob', count: 2 }),
      entry({ kind: 'msgs', origin: 'b', seq: 2, messages: [{ nick: 'bob', text: 'hello' }] })
    ])
    expect(alice.lines).toEqual(['JOINED r alice', 'MSG r bob hello'])
    expect(bob.lines).toEqual(['JOINED r bob', 'MSG r bob hello'])
  })

  it('lets a reply wait for an entry to be delivered, and holds the room until it is', async () => {
    const feed = new RoomFeed('r', 100)
    const joined = entry({ kind: 'joined', origin: 'b', seq: 1, subject: BOB, nick: 'bob', count: 1 })
    const waited = feed.afterDelivered(joined[0], 60_000)
    expect(waited).toBeInstanceOf(Promise)
    expect(feed.idle).toBe(false)
    feed.feed([joined])
    await waited
    expect(feed.idle).toBe(true)
    expect(feed.afterDelivered(joined[0], 60_000)).toBeUndefined()
  })

  it('gives up waiting for an entry that never comes, and lets the room go', async () => {
    const feed = new RoomFeed('r', 100)
    await feed.afterDelivered('99999999-0', 20)
    expect(feed.idle).toBe(true)
  })

  it('forgets a session that is gone, and one whose JOINED was refused, so the room can be let go', () => {
    const feed = new RoomFeed('r', 100)
    const [alice, bob] = [listener(), listener()]
    feed.expect(ALICE, alice)
    feed.feed([entry({ kind: 'joined', origin: 'a', seq: 1, subject: ALICE, nick: 'alice', count: 1 })])
    feed.expect(BOB, bob)
    feed.cancel(BOB)
    feed.forget(ALICE)
    expect(feed.idle).toBe(true)
    feed.feed([entry({ kind: 'msgs', origin: 'a', seq: 2, messages: [{ nick: 'alice', text: 'late' }] })])
    expect([...alice.lines, ...bob.lines]).toEqual(['JOINED r alice'])
  })

  it('coalesces presence that piled up during an outage: who came and went meanwhile is not announced', () => {
    const feed = new RoomFeed('r', 100)
    const alice = listener()
    feed.expect(ALICE, alice)
    feed.feed([entry({ kind: 'joined', origin: 'a', seq: 1, subject: ALICE, nick: 'alice', count: 2 })])
    const lateBy = 5000
    const late = (fields: Parameters<typeof entry>[0]) => entry({ ...fields, at: clock - lateBy })
    feed.feed([
      // Came and went during the outage: nothing.
      late({ kind: 'joined', origin: 'b', seq: 1, subject: 'b/1', nick: 'fleeting', count: 3 }),
      late({ kind: 'left', origin: 'b', seq: 2, subject: 'b/1', nick: 'fleeting', count: 2 }),
      // Came and stayed: once. Was there, and went: once.
      late({ kind: 'joined', origin: 'b', seq: 3, subject: 'b/2', nick: 'stayer', count: 3 }),
      late({ kind: 'left', origin: 'b', seq: 4, subject: BOB, nick: 'bob', count: 2 }),
      // Came, spoke and went: its words are heard, so it is announced.
      late({ kind: 'joined', origin: 'b', seq: 5, subject: 'b/3', nick: 'talker', count: 3 }),
      entry({ kind: 'msgs', origin: 'b', seq: 6, messages: [{ nick: 'talker', text: 'hi' }] }),
      late({ kind: 'left', origin: 'b', seq: 7, subject: 'b/3', nick: 'talker', count: 2 }),
      // On time, however brief: announced as ever.
      entry({ kind: 'joined', origin: 'b', seq: 8, subject: 'b/4', nick: 'brief', count: 3 }),
      entry({ kind: 'left', origin: 'b', seq: 9, subject: 'b/4', nick: 'brief', count: 2 })
    ])
    expect(alice.lines).toEqual([
      'JOINED r alice',
      'JOINED r stayer',
      'LEFT r bob',
      'JOINED r talker',
      'MSG r talker hi',
      'LEFT r talker',
      'JOINED r brief',
      'LEFT r brief'
    ])
  })

  it('never coalesces away a local joiner’s own JOINED, however late', () => {
    const feed = new RoomFeed('r', 100)
    const alice = listener()
    feed.expect(ALICE, alice)
    feed.feed([entry({ kind: 'joined', origin: 'a', seq: 1, subject: ALICE, nick: 'alice', count: 1, at: clock - 5000 })])
    expect(alice.lines).toEqual(['JOINED r alice'])
    expect(feed.members).toBe(1)
  })

  it('skips an entry it cannot read, without losing its place', () => {
    const feed = new RoomFeed('r', 100)
    const alice = listener()
    feed.expect(ALICE, alice)
    feed.feed([entry({ kind: 'joined', origin: 'a', seq: 1, subject: ALICE, nick: 'alice', count: 1 }), [`${clock++}-0`, ['k', 'future-kind']]])
    expect(feed.delivered).toBe(`${clock - 1}-0`)
    expect(alice.lines).toEqual(['JOINED r alice'])
  })
})
