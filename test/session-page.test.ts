// The control room at scale: pages of sessions sorted and filtered by the server, one page object per distinct
// query whoever asks, and an event-loop lag that sees the stalls a snapshot itself can cause.
import { connect, type Socket } from 'node:net'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { sessionPage } from '../src/main/core/metrics/session-page'
import type { Session } from '../src/main/core/server/session'
import type { ChatServer } from '../src/main/core/server/server'
import { SwitchboardHost, type PeerChannel } from '../src/main/host/host'
import { DEFAULT_LIMITS, type EventName, type EventPayload } from '../src/shared/contract'
import type { MetricsSnapshot, SessionPage, SessionQuery } from '../src/shared/telemetry'
import { LOAD_AGENT_FILE, startServer, waitFor, WORKER_FILE } from './helpers'

const sockets: Socket[] = []
const open: { stop(): Promise<void> }[] = []
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  for (const thing of open.splice(0)) await thing.stop()
})

/** `count` line sessions, each having read its WELCOME. */
async function crowd(port: number, count: number): Promise<Socket[]> {
  const opened = await Promise.all(
    Array.from({ length: count }, () => new Promise<Socket>((resolve) => {
      const socket = connect({ port, host: '127.0.0.1' })
      socket.once('data', () => resolve(socket))
    }))
  )
  sockets.push(...opened)
  return opened
}

const query = (change: Partial<SessionQuery>): SessionQuery => ({ sort: 'age', filter: '', offset: 0, limit: 100, ...change })
const nextSnapshot = (server: ChatServer) => new Promise<MetricsSnapshot>((resolve) => server.once('metrics', resolve))

describe('a page of sessions, cut by the server', () => {
  it('is the same slice a full sort would give, for any figures, ties, offset and size', () => {
    // Stand-ins with just what a page reads; ids unique, figures often equal (ties are broken by id).
    const fake = (id: number, figure: number) =>
      ({ id, connectedAt: figure, queuedBytes: figure, msgsInPerSec: figure, remote: `127.0.0.1:${id}`, idleMs: () => figure, metrics: () => ({ id }) }) as unknown as Session
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 600 }),
        fc.constantFrom<SessionQuery['sort']>('pending', 'rate', 'idle', 'age'),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 1, max: 100 }),
        (figures, sort, offset, limit) => {
          const sessions = figures.map((figure, i) => fake(i + 1, figure))
          const page = sessionPage(sessions, () => ({ nick: null, room: null }), query({ sort, offset, limit }), 0)
          const sign = sort === 'age' ? 1 : -1
          const expected = [...sessions].sort((a, b) => sign * (a.queuedBytes - b.queuedBytes) || a.id - b.id).slice(offset, offset + limit)
          expect(page.rows.map((r) => r.id)).toEqual(expected.map((s) => s.id))
          expect(page.matched).toBe(sessions.length)
        }
      ),
      { numRuns: 300 }
    )
  })

  it('sorts by rate, age, idle and output pending, filters by nick, address and room, and cuts pages', async () => {
    const { server, port } = await startServer({ metricsIntervalMs: 100, maxRate: 0 })
    open.push(server)
    const sessions = await crowd(port, 30)
    const [talker, named] = [sessions[7], sessions[12]]
    named.write('NICK zed-unique\nJOIN den\n')
    // One message every 5 ms, for as long as the test runs: its rate stays above everyone's.
    const talking = setInterval(() => talker.write('CHAT hi\n'), 5)
    open.push({ stop: async () => clearInterval(talking) })
    await waitFor('the den joined', () => server.sessionPage(query({ filter: 'den' })).matched === 1)
    // Rates are sampled by the snapshot.
    await nextSnapshot(server)
    await nextSnapshot(server)

    const all = server.sessionPage(query({}))
    expect(all.total).toBe(30)
    expect(all.rows.map((r) => r.id)).toEqual([...all.rows.map((r) => r.id)].sort((a, b) => a - b))
    const byRate = server.sessionPage(query({ sort: 'rate' }))
    await waitFor('the talker sampled', () => server.sessionPage(query({ sort: 'rate' })).rows[0].msgsInPerSec > 0)
    expect(server.sessionPage(query({ sort: 'rate' })).rows[0].id).toBe(all.rows[7].id)
    expect(byRate.matched).toBe(30)
    // The talker made progress lately; everyone else has been idle longer.
    expect(server.sessionPage(query({ sort: 'idle', limit: 30 })).rows.at(-1)!.idleMs).toBeLessThanOrEqual(server.sessionPage(query({ sort: 'idle' })).rows[0].idleMs)

    const byNick = server.sessionPage(query({ filter: 'ZED-uni' }))
    expect(byNick).toMatchObject({ matched: 1, total: 30 })
    expect(byNick.rows[0]).toMatchObject({ nick: 'zed-unique', room: 'den' })
    expect(server.sessionPage(query({ filter: `:${named.localPort}` })).rows.map((r) => r.nick)).toEqual(['zed-unique'])

    const pages = [0, 10, 20].map((offset) => server.sessionPage(query({ offset, limit: 10 })).rows.map((r) => r.id))
    expect(pages.flat()).toEqual(all.rows.map((r) => r.id))
    expect(server.sessionPage(query({ offset: 30, limit: 10 })).rows).toEqual([])

    // A reader that does not read, with output piling up, comes first by output pending.
    // In a room of their own: 16 MB is more than the kernel holds for it, and no burden on the others.
    const stalled = sessions[20]
    stalled.write('JOIN flood\n')
    talker.write('JOIN flood\n')
    await waitFor('both in the flood room', () => server.sessionPage(query({ filter: 'flood' })).matched === 2)
    stalled.pause()
    for (let i = 0; i < 16_000; i++) talker.write(`CHAT ${'p'.repeat(1000)}\n`)
    await waitFor('output pending for the stalled reader', () => server.sessionPage(query({ sort: 'pending', limit: 1 })).rows[0].queuedBytes > 0, 10_000)
    expect(server.sessionPage(query({ sort: 'pending', limit: 1 })).rows[0].id).toBe(all.rows[20].id)
    const snapshot = await nextSnapshot(server)
    expect(snapshot.slowest[0].id).toBe(all.rows[20].id)
    expect(snapshot.totals.queuedBytes).toBeGreaterThan(0)
  }, 20_000)
})

/** A peer of the host that keeps what it is sent. */
function recorder() {
  const sent: { event: EventName; payload: unknown }[] = []
  const channel: PeerChannel = { send: <E extends EventName>(event: E, payload: EventPayload<E>) => void sent.push({ event, payload }) }
  return { channel, sent, pages: () => sent.filter((m) => m.event === 'onSessions').map((m) => m.payload as SessionPage) }
}

describe('the host and its viewers', () => {
  it('sends each viewer its page, one object per distinct query, and none to a peer that asked for none', async () => {
    const host = new SwitchboardHost({
      workerFile: WORKER_FILE,
      loadAgentFile: LOAD_AGENT_FILE,
      config: { listeners: [{ codec: 'line', host: '127.0.0.1', port: 0 }], workers: 0, workUs: 0, cluster: null, limits: DEFAULT_LIMITS },
      serverDefaults: { metricsIntervalMs: 50 }
    })
    open.push({ stop: () => host.dispose() })
    const { bound } = await host.startServer(host.serverState.config)
    await crowd(bound[0].port, 5)
    const [a, b, c, quiet] = [recorder(), recorder(), recorder(), recorder()]
    const peers = [a, b, c, quiet].map((r) => ({ r, peer: host.attach(r.channel) }))
    await peers[0].peer.invoke('setSessionQuery', [query({ limit: 2 })])
    await peers[1].peer.invoke('setSessionQuery', [query({ limit: 2 })])
    await peers[2].peer.invoke('setSessionQuery', [query({ sort: 'pending', limit: 3 })])
    await expect(peers[2].peer.invoke('setSessionQuery', [query({ limit: 101 })])).rejects.toThrow(/query\.limit/)
    // Answered at once, then with every snapshot.
    expect(a.pages()).toHaveLength(1)
    await waitFor('pages with snapshots', () => a.pages().length >= 3 && b.pages().length >= 3)
    const [pageA, pageB, pageC] = [a, b, c].map((r) => r.pages().at(-1)!)
    expect(pageA.rows).toHaveLength(2)
    expect(pageC.rows).toHaveLength(3)
    // The same snapshot's page for the same query is the same object: computed and encoded once.
    const sameTick = a.pages().find((page) => b.pages().includes(page))
    expect(sameTick).toBeDefined()
    expect(pageA).not.toBe(pageC)
    expect(pageB.total).toBe(5)
    expect(quiet.pages()).toEqual([])
    // And it keeps the charts' last points for a window that attaches later.
    const history = (await host.attach(recorder().channel).invoke('getMetricsHistory', [])) as { at: number }[]
    expect(history.length).toBeGreaterThanOrEqual(2)
    expect(history.map((p) => p.at)).toEqual([...history.map((p) => p.at)].sort((x, y) => x - y))

    // A viewer that asks for another page right after a snapshot, before its pages went out, is not sent
    // the page it no longer looks at (its group's), only the new one.
    const server = (host as unknown as { server: ChatServer }).server
    const changed = query({ sort: 'idle', limit: 1 })
    const sentBefore = a.pages().length
    await new Promise<void>((resolve) => {
      server.once('metrics', () => {
        void peers[0].peer.invoke('setSessionQuery', [changed]).then(() => resolve())
      })
    })
    await waitFor('pages after the change', () => b.pages().length > 0 && a.pages().length >= sentBefore + 3)
    expect(a.pages().slice(sentBefore).map((page) => page.query)).toEqual(a.pages().slice(sentBefore).map(() => changed))
  })
})

describe('the event-loop lag a snapshot reports', () => {
  it('includes a stall that happens right after a snapshot was taken', async () => {
    const { server } = await startServer({ metricsIntervalMs: 100 })
    open.push(server)
    await nextSnapshot(server)
    // What encoding a huge snapshot for several viewers did: the loop blocked just after the sampler read it.
    server.once('metrics', () => {
      const until = performance.now() + 120
      while (performance.now() < until);
    })
    const after = [await nextSnapshot(server), await nextSnapshot(server)]
    const worst = Math.max(...after.map((s) => s.totals.eventLoopLagMaxMs))
    const p99 = Math.max(...after.map((s) => s.totals.eventLoopLagP99Ms))
    expect(worst).toBeGreaterThan(90)
    // Counted as long as it lasted: the ticks it swallowed are in the percentiles too.
    expect(p99).toBeGreaterThan(50)
  })
})
