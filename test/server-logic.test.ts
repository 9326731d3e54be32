import { describe, expect, it } from 'vitest'
import type { LogEvent, MetricsSnapshot } from '../src/shared/telemetry'
import { waitFor, sessionsOf } from './helpers'
import { serverFixture } from './line-backends'

const fixture = serverFixture()
const setup = fixture.start
const join = fixture.join

const chats = (lines: string[]) => lines.filter((line) => line.startsWith('MSG '))

describe('the logic stage behind the sockets', () => {
  it.each([2, 0])('keeps each sender in order and gives every member one order (workers %i)', async (workers) => {
    // Small batches with uneven work make batches finish out of order on the pool's threads.
    const port = await setup({ workers, maxBatch: 8, workUs: 5 })
    const members = await Promise.all(Array.from({ length: 6 }, () => join(port)))
    const perSender = 200
    for (let seq = 0; seq < perSender; seq++) for (const m of members) m.c.send(`CHAT ${m.nick} ${seq}`)
    const total = perSender * members.length
    for (const m of members) await m.c.until(`${total} messages`, (lines) => chats(lines).length === total, 20_000)
    const reference = chats(members[0].c.lines)
    for (const m of members) expect(chats(m.c.lines)).toEqual(reference)
    for (const m of members) {
      const own = reference.filter((line) => line.startsWith(`MSG lobby ${m.nick} `)).map((line) => Number(line.split(' ').pop()))
      expect(own).toEqual([...Array(perSender).keys()])
    }
  })

  it('pauses reading when the logic queue passes its high-water mark, and loses nothing', async () => {
    const port = await setup({ workers: 2, workUs: 100, logicHighWater: 64 })
    const events: LogEvent[] = []
    fixture.server.on('log', (event) => events.push(event))
    const a = await join(port)
    for (let i = 0; i < 1000; i++) a.c.send(`CHAT ${i}`)
    await a.c.until('1000 messages', (lines) => chats(lines).length === 1000, 20_000)
    expect(chats(a.c.lines).map((line) => Number(line.split(' ').pop()))).toEqual([...Array(1000).keys()])
    const pressure = () => events.filter((event) => event.kind === 'pressure').map((event) => event.text)
    expect(pressure()[0]).toMatch(/reading paused/)
    // The log is rate-limited, but always ends on the state reading is really in.
    await waitFor('reading resumed', () => /reading resumed/.test(pressure().at(-1) ?? ''), 3000)
    expect(pressure().length).toBeLessThanOrEqual(4)
  })

  it('stops decoding the moment the queue is full, even in the middle of a read', async () => {
    // No rate limit: this one peer sends 20,000 lines at once on purpose.
    const port = await setup({ workers: 2, workUs: 20, logicHighWater: 100, maxRate: 0 })
    const a = await join(port)
    // One write of 20,000 tiny lines: a single read can hold thousands of them.
    a.c.client.sendRaw('PING x\n'.repeat(20_000))
    let deepest = 0
    const watch = setInterval(() => (deepest = Math.max(deepest, fixture.server.snapshot().totals.logicQueueDepth)), 1)
    await a.c.until('20000 PONGs', (lines) => lines.filter((line) => line === 'PONG x').length === 20_000, 20_000)
    clearInterval(watch)
    expect(deepest).toBeGreaterThan(0)
    expect(deepest).toBeLessThanOrEqual(100)
  })

  it('reports sessions and totals in a metrics snapshot', async () => {
    const port = await setup({ workers: 2, metricsIntervalMs: 50 })
    const a = await join(port)
    const b = await join(port)
    a.c.send('NICK ann')
    b.c.send('JOIN den')
    await b.c.expect(`JOINED den ${b.nick}`)
    for (let i = 0; i < 10; i++) a.c.send(`CHAT ${i}`)
    await a.c.until('10 messages', (lines) => chats(lines).length === 10)
    const rows = Object.fromEntries(sessionsOf(fixture.server).map((row) => [row.id, row]))
    expect(rows[a.id]).toMatchObject({ nick: 'ann', room: 'lobby', codec: 'line', msgsIn: 11 })
    expect(rows[b.id]).toMatchObject({ nick: b.nick, room: 'den', msgsIn: 1 })
    expect(rows[a.id].remote).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(rows[a.id].bytesIn).toBe('NICK ann\n'.length + 10 * 'CHAT 0\n'.length)
    const snapshot = await new Promise<MetricsSnapshot>((resolve) => fixture.server.once('metrics', resolve))
    expect(snapshot.totals).toMatchObject({ sessions: 2, msgsIn: 12, logicQueueDepth: 0, poolThreads: 2 })
    // Aggregates, not the sessions: one listener with both, and each room with its member.
    expect(snapshot.listeners).toEqual([{ listener: fixture.server.addresses[0].name, sessions: 2, msgsInPerSec: expect.any(Number), queuedBytes: 0 }])
    expect(snapshot.rooms).toEqual([{ room: 'den', members: 1 }, { room: 'lobby', members: 1 }])
    expect(snapshot.roomCount).toBe(2)
    expect(snapshot).not.toHaveProperty('sessions')
  })

  it('on stop, delivers what was accepted, says BYE, then closes', async () => {
    // 300 messages of 3 ms of work each on 2 threads: the queue takes about half a second to drain.
    const port = await setup({ workers: 2, workUs: 3000 })
    const a = await join(port)
    for (let i = 0; i < 300; i++) a.c.send(`CHAT ${i}`)
    // Stop once the server has read all 300, while most still wait in the logic queue.
    await waitFor('all 300 read', () => fixture.server.snapshot().totals.msgsIn >= 300, 5000)
    expect(fixture.server.snapshot().totals.logicQueueDepth).toBeGreaterThan(0)
    await fixture.server.stop()
    await a.c.closed()
    expect(chats(a.c.lines)).toHaveLength(300)
    expect(a.c.lines.at(-1)).toBe('BYE server-shutdown')
  })
})
