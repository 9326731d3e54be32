import { describe, expect, it } from 'vitest'
import { ChatServer } from '../src/main/core/server/server'
import type { LogEvent } from '../src/shared/telemetry'
import { waitFor, type TestClient, sessionsOf } from './helpers'
import { LINE_BACKENDS, lineFixture } from './line-backends'

/** Every line `c` receives from now on; `expect` consumes TestClient.lines, this keeps them all. */
function record(c: TestClient): string[] {
  const heard: string[] = []
  c.client.on('line', (line) => heard.push(line))
  return heard
}

/** Sends a PING and waits for its PONG: everything the server sent this client before is in by then. */
async function barrier(c: TestClient, token: string): Promise<void> {
  c.send(`PING ${token}`)
  await c.expect(`PONG ${token}`)
}

describe.each(LINE_BACKENDS)('limits, on $name', (backend) => {
  const fixture = lineFixture(backend)
  const setup = fixture.start
  const join = fixture.join

  describe('presence in large rooms', () => {
    it('announces JOINED, LEFT and NICK only to the session concerned once a room passes the presence limit', async () => {
      const port = await setup({ presenceLimit: 3 })
      const [a, b, c] = [await join(port), await join(port), await join(port)]
      await a.c.expect(`JOINED lobby ${c.nick}`)
      const heardByA = record(a.c)
      const d = await join(port) // the room now has 4 members: above the limit
      const e = await join(port)
      e.c.send('NICK eve')
      await e.c.expect(`NICK ${e.nick} eve`)
      for (const leaver of [d, e]) {
        leaver.c.send('QUIT')
        await leaver.c.closed()
        await waitFor('the leaver gone', () => !sessionsOf(leaver.server!).some((s) => s.id === leaver.id))
      }
      await barrier(a.c, 'after')
      const seen = heardByA.join('\n')
      expect(seen).toContain('PONG after')
      expect(seen).not.toContain(d.nick)
      expect(seen).not.toContain(e.nick)
      expect(seen).not.toContain('eve')
      // Below the limit again, presence is the room's business once more.
      b.c.send('NICK bob')
      await a.c.expect(`NICK ${b.nick} bob`)
    })

    it('answers WHO in USERS lines that each fit the line limit, then an end marker with the count', async () => {
      const port = await setup({ maxLineBytes: 64 })
      const members = await Promise.all(Array.from({ length: 12 }, () => join(port)))
      for (const [i, m] of members.entries()) {
        const name = `member-with-a-long-name-${String(i).padStart(2, '0')}`
        m.c.send(`NICK ${name}`)
        await m.c.expect(`NICK ${m.nick} ${name}`)
      }
      const asker = members[0].c
      await barrier(asker, 'names')
      const heard = record(asker)
      asker.send('WHO')
      await asker.expect('USERS-END lobby 12')
      const pages = heard.filter((line) => line.startsWith('USERS '))
      expect(pages.length).toBeGreaterThan(1)
      for (const page of pages) expect(Buffer.byteLength(page)).toBeLessThanOrEqual(64)
      const listed = pages.flatMap((page) => page.split(' ').slice(2))
      expect(listed.sort()).toEqual(members.map((_, i) => `member-with-a-long-name-${String(i).padStart(2, '0')}`))
      // The answer is kept per room, and a rename is news to the next WHO.
      members[3].c.send('NICK renamed')
      await asker.expect(`NICK member-with-a-long-name-03 renamed`)
      heard.splice(0)
      asker.send('WHO')
      await asker.expect('USERS-END lobby 12')
      const again = heard.filter((line) => line.startsWith('USERS ')).flatMap((page) => page.split(' ').slice(2))
      expect(again).toContain('renamed')
      expect(again).not.toContain('member-with-a-long-name-03')
    })
  })

  describe('timeouts', () => {
    it('closes a session that sends no complete line for the idle timeout, and keeps one that only PINGs', async () => {
      // Pings 20 times per timeout: a stalled moment on a busy machine must not look like idleness.
      const port = await setup({ idleTimeoutMs: 1000, partialTimeoutMs: 10_000 })
      const idle = await join(port)
      const pinger = await join(port)
      let n = 0
      const keepAlive = setInterval(() => pinger.c.send(`PING ${n++}`), 50)
      try {
        await idle.c.expect(/^ERR idle-timeout /)
        await idle.c.closed()
        // Two more idle timeouts later the pinger is still served.
        const target = n + 40
        await pinger.c.until(`PONG ${target}`, (lines) => lines.includes(`PONG ${target}`))
        expect(pinger.c.closedWith).toBeNull()
      } finally {
        clearInterval(keepAlive)
      }
    })

    it('keeps a client that only listens when it sends keep-alives, and hides their PONGs from it', async () => {
      const port = await setup({ idleTimeoutMs: 1000, partialTimeoutMs: 10_000 })
      const idle = await join(port)
      const listener = await fixture.connect({ port, keepAliveMs: 50 })
      const heard = record(listener)
      await idle.c.expect(/^ERR idle-timeout /)
      await idle.c.closed()
      // Its keep-alives are what the server hears from it: 40 more of them are two more idle timeouts.
      const keepAlives = () => sessionsOf(fixture.server).find((s) => s.id !== idle.id)?.msgsIn ?? 0
      const target = keepAlives() + 40
      await waitFor('40 more keep-alives', () => keepAlives() >= target, 10_000)
      expect(listener.closedWith).toBeNull()
      await barrier(listener, 'still-there')
      expect(heard.filter((line) => line.startsWith('PONG switchboard-keepalive'))).toEqual([])
    })

    it('closes a session whose line stays incomplete for the partial timeout, even while bytes trickle in', async () => {
      const port = await setup({ idleTimeoutMs: 60_000, partialTimeoutMs: 300 })
      const slow = await join(port)
      const trickle = setInterval(() => slow.c.client.sendRaw('x'), 50)
      try {
        await slow.c.expect(/^ERR partial-timeout /)
        await slow.c.closed()
      } finally {
        clearInterval(trickle)
      }
    })
  })

  describe('flood control', () => {
    it('drops what goes over the rate with one ERR rate-limited, counts it, and lets the session go on', async () => {
      const port = await setup({ maxRate: 50, rateBurst: 10 })
      const a = await join(port)
      const heard = record(a.c)
      a.c.client.sendRaw('PING burst\n'.repeat(25))
      await a.c.expect(/^ERR rate-limited /)
      const answered = () => heard.filter((line) => line === 'PONG burst').length
      // Tokens come back at 50/s: a later PING gets through once one has.
      let n = 0
      const retry = setInterval(() => a.c.send(`PING later-${n++}`), 40)
      try {
        await a.c.expect(/^PONG later-/)
      } finally {
        clearInterval(retry)
      }
      expect(answered()).toBeGreaterThanOrEqual(10)
      expect(answered()).toBeLessThan(25)
      expect(heard.filter((line) => line.startsWith('ERR rate-limited'))).toHaveLength(1)
      const snapshot = a.server!.snapshot()
      const row = sessionsOf(a.server!).find((s) => s.id === a.id)!
      expect(row.rateLimited).toBe(25 - answered())
      expect(snapshot.totals.rateLimited).toBe(row.rateLimited)
      expect(a.c.closedWith).toBeNull()
    })

    it('closes a session that keeps flooding far past its rate', async () => {
      const port = await setup({ maxRate: 50, rateBurst: 10 })
      const events: LogEvent[] = []
      const a = await join(port)
      a.server!.on('log', (event) => events.push(event))
      const b = await join(port)
      const heardByB = record(b.c)
      a.c.client.sendRaw('CHAT spam\n'.repeat(2000))
      await a.c.expect(/^ERR rate-limited .*clos/)
      await a.c.closed()
      await b.c.expect(`LEFT lobby ${a.nick}`)
      await barrier(b.c, 'still-here')
      expect(heardByB.filter((line) => line.endsWith(' spam')).length).toBeLessThanOrEqual(10 + 1)
      await waitFor('the close logged', () => events.some((e) => e.sessionId === a.id && /rate/.test(e.text)))
    })
  })
})

describe('server options', () => {
  it.each([
    [{ sessionHighWater: 0 }, /sessionHighWater must be a number >= 1/],
    [{ logicHighWater: -5 }, /logicHighWater/],
    [{ idleTimeoutMs: Number.NaN }, /idleTimeoutMs/]
  ])('refuses %o, which would stall or break every session', (options, message) => {
    expect(() => new ChatServer({ listeners: [], workers: 0, ...options })).toThrow(message)
  })
})
