// Message ids, HISTORY and RESUME: the ring each room keeps on a node of its own, and the protocol over real
// servers, on one node and on a two-node cluster alike (cluster-only cases are in cluster-history.test.ts).
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { RoomHistory } from '../src/main/core/server/room-history'
import type { ChatServer } from '../src/main/core/server/server'
import { joinLine, startServer, type TestClient } from './helpers'
import { LINE_BACKENDS, lineFixture } from './line-backends'

const LIMITS = { historyMessages: 1000, historyBytes: 1 << 20, maxTotalHistoryBytes: 64 << 20 }

describe('RoomHistory', () => {
  it('gives ids that increase in every room, and replays what came after one', () => {
    const history = new RoomHistory(LIMITS)
    const ids = ['a', 'b', 'c'].map((text, i) => history.append(i === 1 ? 'den' : 'lobby', 'ann', text))
    expect(new Set(ids).size).toBe(3)
    expect(history.latest('lobby', 5).map((e) => e.text)).toEqual(['a', 'c'])
    expect(history.after('lobby', ids[0])).toEqual({ entries: [{ id: ids[2], nick: 'ann', text: 'c' }], gone: null })
    // The den's message came between: nothing of the lobby's was lost after it.
    expect(history.after('lobby', ids[1])).toEqual({ entries: [{ id: ids[2], nick: 'ann', text: 'c' }], gone: null })
    expect(history.after('lobby', ids[2])).toEqual({ entries: [], gone: null })
  })

  it('says where what it kept starts when the ring moved past the id, and for an id of another run', () => {
    const history = new RoomHistory({ ...LIMITS, historyMessages: 2 })
    const ids = [1, 2, 3, 4, 5].map((n) => history.append('lobby', 'ann', `m${n}`))
    expect(history.after('lobby', ids[0])).toEqual({ entries: history.latest('lobby', 2), gone: ids[3] })
    // The message right after the id is kept: no gap.
    expect(history.after('lobby', ids[2]).gone).toBeNull()
    expect(history.after('lobby', `${(Date.now() - 1_000_000).toString(36)}-3`)).toMatchObject({ gone: ids[3] })
  })

  it('keeps nothing with a history of 0 messages, and says so to a resume from before the last message', () => {
    const history = new RoomHistory({ ...LIMITS, historyMessages: 0 })
    const ids = [1, 2].map((n) => history.append('lobby', 'ann', `m${n}`))
    expect(history.latest('lobby', 5)).toEqual([])
    expect(history.after('lobby', ids[0]).gone).not.toBeNull()
    expect(history.after('lobby', ids[1])).toEqual({ entries: [], gone: null })
  })

  it('forgets the rooms written least lately once all rooms together pass their bound, and says so to a resume', () => {
    const history = new RoomHistory({ ...LIMITS, maxTotalHistoryBytes: 1000 })
    const first = history.append('old', 'ann', 'x'.repeat(150))
    history.append('old', 'ann', 'x'.repeat(150))
    for (let i = 0; i < 4; i++) history.append('new', 'bob', 'y'.repeat(200))
    expect(history.latest('old', 10)).toEqual([])
    // The message after `first` was forgotten with its room.
    expect(history.after('old', first).gone).not.toBeNull()
    expect(history.latest('new', 10).length).toBeGreaterThan(0)
  })

  it('for any sends and resumes, replays exactly what a client missed, or says a gap was there', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('r1', 'r2'), fc.nat(3)), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 8 }), (sends, kept) => {
        const history = new RoomHistory({ ...LIMITS, historyMessages: kept })
        const sent: { room: string; id: string }[] = sends.map(([room], i) => ({ room, id: history.append(room, 'n', `t${i}`) }))
        for (const [at, { room, id }] of sent.entries()) {
          const missed = sent.slice(at + 1).filter((s) => s.room === room).map((s) => s.id)
          const { entries, gone } = history.after(room, id)
          const replayed = entries.map((e) => e.id)
          // Never a duplicate, never out of order, never anything from before the id.
          expect(replayed).toEqual(missed.slice(missed.length - replayed.length))
          // What is not replayed is reported as gone, and only then.
          expect(gone === null).toBe(replayed.length === missed.length)
          if (gone !== null) expect(gone).toBe(replayed[0] ?? gone)
        }
      })
    )
  })
})

/** A member that asked for ids, once the server said yes (with its place). */
async function idsAsked<T extends { c: TestClient }>(joined: T): Promise<T> {
  joined.c.send('CAP ids')
  await joined.c.expect(/^@id=\S+ CAP ids$/)
  return joined
}

const idOf = (line: string) => /^@id=(\S+) MSG /.exec(line)![1]

// The protocol as clients see it, on a node of its own and on a two-node cluster (members alternate nodes).
describe.each(LINE_BACKENDS)('CAP ids, HISTORY and RESUME on $name', (backend) => {
  const fixture = lineFixture(backend)
  const start = (options = {}) => fixture.start({ maxRate: 0, ...options })
  const member = (port: number) => fixture.join(port)
  const withIds = async (port: number) => idsAsked(await member(port))

  it('tags MSG lines for the sessions that asked, and only for them', async () => {
    const port = await start()
    const a = await withIds(port)
    const b = await member(port)
    b.c.send('CHAT hello')
    const tagged = await a.c.expect(/ MSG lobby /)
    expect(tagged).toMatch(new RegExp(`^@id=\\S+ MSG lobby ${b.nick} hello$`))
    expect(await b.c.expect(/^MSG lobby /)).toBe(`MSG lobby ${b.nick} hello`)
  })

  it('answers HISTORY with the last messages of the room, oldest first, then HISTORY-END', async () => {
    const port = await start()
    const a = await member(port)
    for (const text of ['one', 'two', 'three']) a.c.send(`CHAT ${text}`)
    a.c.send('PING kept')
    await a.c.expect('PONG kept')
    const b = await member(port)
    b.c.send('HISTORY 2')
    expect(await b.c.expect(/^MSG lobby /)).toBe(`MSG lobby ${a.nick} two`)
    expect(await b.c.expect(/^MSG lobby /)).toBe(`MSG lobby ${a.nick} three`)
    await b.c.expect('HISTORY-END lobby 2')
    b.c.send('HISTORY 0')
    await b.c.expect(/^ERR bad-argument HISTORY takes a count/)
  })

  it('resumes after a disconnect: the missed messages in order, RESUME-END, then live, with no gap and no duplicate', async () => {
    const port = await start()
    const talker = await member(port)
    const first = await withIds(port)
    talker.c.send('CHAT before')
    const lastSeen = idOf(await first.c.expect(/ MSG lobby /))
    await first.c.close()
    for (const text of ['m1', 'm2', 'm3']) talker.c.send(`CHAT ${text}`)
    talker.c.send('PING sent')
    await talker.c.expect('PONG sent')

    const again = await member(port)
    again.c.send('CAP ids')
    again.c.send(`RESUME den ${lastSeen}`)
    // Another room's id: the den never had those messages, so nothing is replayed (a cluster node, which
    // cannot tell it from an id trimmed away, says history-gone too).
    await again.c.expect('RESUME-END den 0')
    again.c.send(`RESUME lobby ${lastSeen}`)
    await again.c.expect(new RegExp(`^@id=\\S+ JOINED lobby ${again.nick}$`))
    const replayed = [await again.c.expect(/ MSG lobby /), await again.c.expect(/ MSG lobby /), await again.c.expect(/ MSG lobby /)]
    expect(replayed.map((line) => line.split(' ').at(-1))).toEqual(['m1', 'm2', 'm3'])
    await again.c.expect('RESUME-END lobby 3')
    talker.c.send('CHAT live')
    const live = await again.c.expect(/ MSG lobby /)
    expect(live).toMatch(/ live$/)
    const ids = [lastSeen, ...replayed.map(idOf), idOf(live)]
    expect(new Set(ids).size).toBe(5)
  })

  it('tells one that asked for ids where it came in, with its JOINED: a resume from there gets all said since, though it heard nothing', async () => {
    const port = await start()
    const talker = await member(port)
    talker.c.send('CHAT before')
    await talker.c.expect(/ before$/)
    const quiet = await withIds(port)
    quiet.c.send('JOIN den')
    const position = /^@id=(\S+) JOINED den /.exec(await quiet.c.expect(/ JOINED den /))![1]
    await quiet.c.close()
    talker.c.send('JOIN den')
    for (const text of ['m1', 'm2']) talker.c.send(`CHAT ${text}`)
    await talker.c.expect(/ m2$/)
    const back = await withIds(port)
    back.c.send(`RESUME den ${position}`)
    expect([await back.c.expect(/ MSG den /), await back.c.expect(/ MSG den /)].map((line) => line.split(' ').at(-1))).toEqual(['m1', 'm2'])
    await back.c.expect('RESUME-END den 2')
  })

  it('answers CAP ids, and a JOIN of the room one is in, with one’s place: a resume from there gets what came after', async () => {
    const port = await start()
    const talker = await member(port)
    talker.c.send('CHAT before')
    await talker.c.expect(/ before$/)
    const a = await member(port)
    a.c.send('CAP ids')
    const place = /^@id=(\S+) CAP ids$/.exec(await a.c.expect(/CAP ids$/))![1]
    a.c.send('JOIN lobby')
    expect(await a.c.expect(/ JOINED lobby /)).toBe(`@id=${place} JOINED lobby ${a.nick}`)
    await a.c.close()
    talker.c.send('CHAT after')
    await talker.c.expect(/ after$/)
    const back = await withIds(port)
    back.c.send(`RESUME lobby ${place}`)
    expect(await back.c.expect(/ MSG lobby /)).toMatch(/ after$/)
    await back.c.expect('RESUME-END lobby 1')
  })

  it('resumes the room one is in with its own JOINED first: what came live before it, the replay has', async () => {
    const port = await start()
    const talker = await member(port)
    const first = await withIds(port)
    talker.c.send('CHAT seen')
    const lastSeen = idOf(await first.c.expect(/ MSG lobby /))
    await first.c.close()
    talker.c.send('CHAT missed')
    await talker.c.expect(/ missed$/)
    // Back in the lobby at once, where the talker goes on talking before the RESUME is read.
    const back = await member(port)
    talker.c.send('CHAT live-before-resume')
    await back.c.expect(/ live-before-resume$/)
    back.c.send('CAP ids')
    back.c.send(`RESUME lobby ${lastSeen}`)
    await back.c.until('the replay', (lines) => lines.includes('RESUME-END lobby 2'))
    const joined = back.c.lines.findIndex((line) => new RegExp(`^@id=\\S+ JOINED lobby ${back.nick}$`).test(line))
    expect(joined).toBeGreaterThanOrEqual(0)
    // After its JOINED: the replay of both, then the end; nothing else of the room between.
    expect(back.c.lines.slice(joined + 1).map((line) => line.replace(/^@id=\S+ /, ''))).toEqual([
      `MSG lobby ${talker.nick} missed`,
      `MSG lobby ${talker.nick} live-before-resume`,
      'RESUME-END lobby 2'
    ])
  })

})

describe('history kept by a node on its own', () => {
  let server: ChatServer | null = null
  const clients: TestClient[] = []
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await server?.stop()
    server = null
  })
  async function member(port: number) {
    const joined = await joinLine(port)
    clients.push(joined.c)
    return joined
  }

  it('says ERR history-gone with the oldest id kept when the ring moved past, replays what is kept, and joins anyway', async () => {
    const started = await startServer({ maxRate: 0, historyMessages: 2 })
    server = started.server
    const { port } = started
    const talker = await member(port)
    talker.c.send('CAP ids')
    talker.c.send('JOIN den')
    await talker.c.expect(new RegExp(`^@id=\\S+ JOINED den ${talker.nick}$`))
    for (const text of ['m1', 'm2', 'm3', 'm4']) talker.c.send(`CHAT ${text}`)
    const ids = [] as string[]
    for (let i = 0; i < 4; i++) ids.push(idOf(await talker.c.expect(/ MSG den /)))
    const late = await member(port)
    late.c.send(`RESUME den ${ids[0]}`)
    // Joined first, as JOIN would; then where the gap ends: everything from ids[2] on is here.
    await late.c.expect(`JOINED den ${late.nick}`)
    await late.c.expect(`ERR history-gone ${ids[2]}`)
    expect(await late.c.expect(/^MSG den /)).toBe(`MSG den ${talker.nick} m3`)
    expect(await late.c.expect(/^MSG den /)).toBe(`MSG den ${talker.nick} m4`)
    await late.c.expect('RESUME-END den 2')
  })
})
