// Message ids, HISTORY and RESUME on the nodes of a cluster, read from the rooms' streams in a real Redis:
// an id means the same message on every node, a client resumes on another node (or on a survivor after its
// node was killed) with nothing missing and nothing twice, and a stream trimmed past its id is reported.
// The protocol itself runs over both backends in history.test.ts.
import { describe, expect, it } from 'vitest'
import type { ResumingClient } from '../src/main/core/client/resuming-client'
import { clusterFixture, spawnNode } from './cluster-nodes'
import { waitFor, type TestClient } from './helpers'
import { startResumer } from './resumer'

const cluster = clusterFixture()
const { node, member, twoNodes } = cluster

const TAGGED = /^@id=(\S+) MSG \S+ \S+ (.*)$/
const idOf = (line: string) => TAGGED.exec(line)![1]
const textOf = (line: string) => TAGGED.exec(line)?.[2] ?? line.split(' ').slice(3).join(' ')

/** A member that asked for ids, once its node said yes. */
async function withIds(port: number, nick: string, room = 'r'): Promise<TestClient> {
  const c = await member(port, nick, room)
  c.send('CAP ids')
  await c.expect(/^@id=\S+ CAP ids$/)
  return c
}

/** Says each text and waits for its echo: one message per entry of the stream. */
async function sayEach(c: TestClient, texts: string[]): Promise<string[]> {
  const ids: string[] = []
  for (const text of texts) {
    c.send(`CHAT ${text}`)
    ids.push(idOf(await c.expect(new RegExp(` MSG \\S+ \\S+ ${text}$`))))
  }
  return ids
}

describe('ids, history and resume in a cluster', () => {
  it('gives a message one id on every node, and answers HISTORY on either with the same ids', async () => {
    const [a, b] = await twoNodes()
    const ann = await withIds(a.port, 'ann')
    const bob = await withIds(b.port, 'bob')
    const carl = await member(b.port, 'carl')
    ann.send('CHAT one')
    ann.send('CHAT two')
    bob.send('CHAT three')
    const heardByAnn = [await ann.expect(TAGGED), await ann.expect(TAGGED), await ann.expect(TAGGED)]
    const heardByBob = [await bob.expect(TAGGED), await bob.expect(TAGGED), await bob.expect(TAGGED)]
    expect(heardByBob).toEqual(heardByAnn)
    expect(new Set(heardByAnn.map(idOf)).size).toBe(3)
    // Who never asked sees today's lines.
    expect([await carl.expect(/MSG/), await carl.expect(/MSG/), await carl.expect(/MSG/)]).toEqual(heardByAnn.map((line) => line.replace(/^@id=\S+ /, '')))

    const late = await withIds(a.port, 'late')
    late.send('HISTORY 2')
    expect([await late.expect(TAGGED), await late.expect(TAGGED)]).toEqual(heardByAnn.slice(1))
    await late.expect('HISTORY-END r 2')
    carl.send('HISTORY 5')
    // In the stream's order, whichever node's message came first.
    for (const line of heardByAnn) expect(await carl.expect(/^MSG r /)).toBe(line.replace(/^@id=\S+ /, ''))
    await carl.expect('HISTORY-END r 3')
  })

  it('resumes on the other node while the room goes on talking: the replay, RESUME-END, then live, none twice, none missing', async () => {
    const [a, b] = await twoNodes()
    const ann = await withIds(a.port, 'ann')
    const bob = await withIds(b.port, 'bob')
    const [lastSeen] = await sayEach(bob, ['before'])
    await ann.expect(new RegExp(`^@id=${lastSeen} `))
    await ann.close()
    const missed = await sayEach(bob, ['m1', 'm2', 'm3'])

    // Bob goes on talking while ann's new connection, on the other node, resumes.
    let talking = true
    const talked = (async () => {
      for (let i = 0; talking; i++) {
        bob.send(`CHAT live-${i}`)
        if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 2))
      }
    })()
    const again = await cluster.connect(a.port)
    again.send('CAP ids')
    again.send(`RESUME r ${lastSeen}`)
    await again.until('the replay', (lines) => lines.some((line) => line.startsWith('RESUME-END r ')))
    await new Promise((resolve) => setTimeout(resolve, 300))
    talking = false
    await talked
    bob.send('PING done')
    await bob.until('its PONG', (lines) => lines.includes('PONG done'))
    const bobIds = [...missed, ...bob.lines.filter((line) => TAGGED.test(line)).map(idOf)]
    await again.until('every message bob saw', (lines) => lines.some((line) => TAGGED.test(line) && idOf(line) === bobIds.at(-1)))

    const heard = again.lines.filter((line) => TAGGED.test(line) || line.startsWith('RESUME-END ') || / JOINED r /.test(line))
    const nick = again.lines.find((line) => line.startsWith('WELCOME '))!.split(' ')[2]
    expect(heard[0]).toMatch(new RegExp(`^@id=\\S+ JOINED r ${nick}$`))
    const end = heard.findIndex((line) => line.startsWith('RESUME-END '))
    // Replayed: at least what was said before it connected; then live traffic, and together bob's order exactly.
    expect(heard[end]).toBe(`RESUME-END r ${end - 1}`)
    expect(end - 1).toBeGreaterThanOrEqual(3)
    expect(heard.filter((line) => TAGGED.test(line)).map(idOf)).toEqual(bobIds)
    expect(bobIds.length).toBeGreaterThan(end + 10)
  })

  it('says history-gone once an emptied room’s stream was trimmed past the id, replays what is kept, and joins anyway', async () => {
    const [a, b] = await twoNodes()
    const ann = await withIds(a.port, 'ann', 'den')
    const texts = Array.from({ length: 30 }, (_, i) => `m${i + 1}`)
    const ids = await sayEach(ann, texts)
    // The room empties: its stream is cut to its last 20 entries (the last messages, and ann's JOINED/LEFT).
    ann.send('JOIN lobby')
    await ann.expect(/^@id=\S+ JOINED lobby ann$/)
    const late = await withIds(b.port, 'late')
    late.send(`RESUME den ${ids[0]}`)
    await late.expect(/^@id=\S+ JOINED den late$/)
    const gone = await late.expect(/^ERR history-gone /)
    const replayed: string[] = []
    for (let line = await late.expect(/ MSG den |^RESUME-END /); !line.startsWith('RESUME-END'); line = await late.expect(/ MSG den |^RESUME-END /)) replayed.push(line)
    expect(gone).toBe(`ERR history-gone ${idOf(replayed[0])}`)
    expect(replayed.map(textOf)).toEqual(texts.slice(-replayed.length))
    expect(replayed.map(idOf)).toEqual(ids.slice(-replayed.length))
    expect(replayed.length).toBeLessThan(20)
    expect(replayed.length).toBeGreaterThan(10)
    // Resuming from a kept id says nothing is gone.
    late.send(`RESUME den ${ids.at(-2)}`)
    expect(idOf(await late.expect(TAGGED))).toBe(ids.at(-1))
    await late.expect('RESUME-END den 1')
    expect(late.lines.some((line) => line.startsWith('ERR'))).toBe(false)
  })

  it('resumes on a survivor after its node was killed: what the room said meanwhile, and live after', async () => {
    const survivor = await node('survivor')
    const doomed = await spawnNode(cluster.redis.url, 'doomed')
    const owned: ResumingClient[] = []
    try {
      const { heard } = await startResumer([doomed.port, survivor.port], 'r', owned, 50)
      const talker = await withIds(survivor.port, 'talker')
      await sayEach(talker, ['a', 'b'])
      await waitFor('b heard', () => heard.texts.includes('b'))
      doomed.child.kill('SIGKILL')
      await sayEach(talker, ['c', 'd', 'e'])
      await waitFor('resumed on the survivor', () => heard.resumptions.length === 1, 10_000)
      expect(heard.resumptions[0]).toMatchObject({ target: { port: survivor.port }, room: 'r', gone: null })
      expect(heard.resumptions[0].restored).toBeGreaterThanOrEqual(1)
      await sayEach(talker, ['f'])
      await waitFor('f heard', () => heard.texts.includes('f'))
      expect(heard.texts).toEqual(['a', 'b', 'c', 'd', 'e', 'f'])
    } finally {
      await Promise.all(owned.map((client) => client.close()))
    }
  }, 30_000)
})
