// A property over real connections: for random interleavings of sends, dropped connections and resumes, every
// resuming client's log ends up equal to the room's order (as a client that never dropped heard it), with no
// message twice and none missing but those in a gap the server reported (ERR history-gone). On a node of its
// own with a short history (so gaps happen), and on a two-node cluster whose clients come back on either node.
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ResumingClient } from '../src/main/core/client/resuming-client'
import type { ChatServer } from '../src/main/core/server/server'
import { TcpProxy } from '../scripts/tcp-proxy'
import { clusterFixture } from './cluster-nodes'
import { startServer, TestClient, waitFor } from './helpers'
import { startResumer } from './resumer'

const cluster = clusterFixture()
const TAGGED = /^@id=(\S+) MSG \S+ \S+ (.*)$/
const RESUMERS = 3

type Step = { say: number; count: number } | { drop: number } | { pauseMs: number }

const steps = fc.array(
  fc.oneof(
    fc.record({ say: fc.nat(RESUMERS), count: fc.integer({ min: 1, max: 6 }) }),
    fc.record({ drop: fc.nat(RESUMERS - 1) }),
    fc.record({ pauseMs: fc.integer({ min: 0, max: 40 }) })
  ),
  { minLength: 1, maxLength: 30 }
)

let runs = 0

/**
 * One run in a room of its own: an observer that never drops (its log is the room's order) and RESUMERS
 * resuming clients, each through a proxy of its own that the run cuts at will.
 */
async function run(ports: number[], script: Step[]): Promise<void> {
  const room = `p${++runs}`
  const owned: ResumingClient[] = []
  const proxies = await Promise.all(Array.from({ length: RESUMERS }, (_, i) => TcpProxy.start(ports[i % ports.length])))
  const observer = await TestClient.connect({ port: ports[0] })
  try {
    observer.send('CAP ids')
    observer.send(`JOIN ${room}`)
    await observer.expect(/^JOINED /)
    const resumers = await Promise.all(proxies.map((proxy) => startResumer([proxy.port], room, owned, 10)))
    /**
     * Per resumer, the gaps it was told of: from what it had seen when its connection last dropped (the id its
     * RESUME named) to where the server said what is kept starts.
     */
    const gaps = resumers.map(({ client }) => {
      const told: { from: string | null; to: string }[] = []
      let seenAtDrop: string | null = null
      client.on('disconnected', () => (seenAtDrop = client.lastSeenId))
      client.on('resumed', ({ gone }) => gone !== null && told.push({ from: seenAtDrop, to: gone }))
      return told
    })
    const away = resumers.map(({ client }) => {
      const state = { away: false }
      client.on('disconnected', () => (state.away = true))
      client.on('resumed', () => (state.away = false))
      return state
    })
    let said = 0
    for (const step of script) {
      if ('say' in step) {
        const speaker = step.say === RESUMERS ? observer : resumers[step.say].client
        for (let k = 0; k < step.count; k++) speaker.send(`CHAT s${said++}`)
      } else if ('drop' in step) proxies[step.drop].dropConnections()
      else await new Promise((resolve) => setTimeout(resolve, step.pauseMs))
    }
    // Every resumer back, and what it said taken (its PONG comes after), before the end is said.
    // A drop just made may not be noticed yet: a PING lost with its connection is sent again.
    for (const [i, { client, heard }] of resumers.entries()) {
      for (let attempt = 0; ; attempt++) {
        await waitFor('the resumer back', () => !away[i].away, 10_000)
        client.send(`PING fin-${attempt}`)
        const answered = await waitFor('its PONG', () => heard.lines.includes(`PONG fin-${attempt}`), 500).then(() => true, () => false)
        if (answered) break
        if (attempt === 20) throw new Error(`resumer ${i} never came back`)
      }
    }
    observer.send('CHAT end')
    await observer.until('the end', (lines) => lines.some((line) => line.endsWith(' end')))
    for (const { heard } of resumers) await waitFor('every resumer at the end', () => heard.texts.includes('end'), 10_000)

    const order = observer.lines.flatMap((line) => TAGGED.exec(line)?.[1] ?? [])
    for (const [i, { client, heard }] of resumers.entries()) {
      const got = heard.lines.flatMap((line) => TAGGED.exec(line)?.[1] ?? [])
      // What it may have missed: what lies in a gap it was told of. A gap ends where what is kept starts, or
      // (nothing was kept) at the next message it got.
      const missable = new Set<string>()
      for (const { from, to } of gaps[i]) {
        const start = from === null ? 0 : order.indexOf(from) + 1
        const end = order.includes(to) ? order.indexOf(to) : order.indexOf(got[got.indexOf(from ?? '') + 1])
        for (const id of order.slice(start, end)) missable.add(id)
      }
      expect(new Set(got).size, 'no message twice').toBe(got.length)
      expect(got, `resumer ${i} (${heard.resumptions.length} resumptions, ${gaps[i].length} gaps)`).toEqual(order.filter((id) => !missable.has(id) || got.includes(id)))
      expect(client.lastSeenId).toBe(order.at(-1))
    }
  } finally {
    await Promise.all([...owned.map((client) => client.close()), observer.close(), ...proxies.map((proxy) => proxy.stop())])
  }
}

describe('resuming over real dropped connections, for any interleaving', () => {
  let server: ChatServer
  let port: number
  beforeAll(async () => {
    ;({ server, port } = await startServer({ maxRate: 0, historyMessages: 8 }))
  })
  afterAll(() => server.stop())

  it('on one node with a short history: each log is the room’s, but for the gaps it was told of', async () => {
    await fc.assert(fc.asyncProperty(steps, (script) => run([port], script)), { numRuns: 12 })
  }, 60_000)

  it('on a two-node cluster, each client coming back to its node: each log is the room’s', async () => {
    const [a, b] = await cluster.twoNodes({ maxRate: 0 })
    await fc.assert(fc.asyncProperty(steps, (script) => run([a.port, b.port], script)), { numRuns: 8 })
  }, 60_000)
})
