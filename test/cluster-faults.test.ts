// The cluster on a bad day, made real: Redis paused (SIGSTOP), killed and started empty, or one node's link to
// it blackholed by a proxy of the test's own. Leases are short here (leaseMs), so each fault takes seconds.
import { describe, expect, it } from 'vitest'
import { keys } from '../src/main/core/cluster/keys'
import { formatStatus } from '../src/main/cli/status'
import { TcpProxy } from '../scripts/tcp-proxy'
import { waitFor, type TestClient } from './helpers'
import { clusterFixture } from './cluster-nodes'

const cluster = clusterFixture()
const { node, member, connect } = cluster
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** `member`, retried while the node still turns newcomers away (fenced, rejoining): resolves once in. */
async function memberOnceBack(port: number, nick: string, withinMs: number): Promise<TestClient> {
  const deadline = Date.now() + withinMs
  for (;;) {
    try {
      return await member(port, nick)
    } catch (error) {
      if (Date.now() > deadline) throw error
      await sleep(200)
    }
  }
}

/** Two nodes with the lease given, alice in room r on a and bob on b. */
async function aliceAndBob(leaseMs: number) {
  const tuning = { leaseMs }
  const [a, b] = await Promise.all([node('a', { tuning }), node('b', { tuning })])
  return { a, b, alice: await member(a.port, 'alice'), bob: await member(b.port, 'bob') }
}

describe('a node cut off from Redis', () => {
  it('fences itself before the others reap it, Redis refuses its late writes, and it rejoins by itself', async () => {
    const proxy = await TcpProxy.start(cluster.redis.port)
    try {
      const tuning = { leaseMs: 1500 }
      const a = await node('a', { tuning, redisUrl: proxy.url })
      const b = await node('b', { tuning })
      const alice = await member(a.port, 'alice')
      const bob = await member(b.port, 'bob')
      const heardByBob: string[] = []
      bob.client.on('line', (line) => heardByBob.push(line))
      await alice.expect('JOINED r bob')
      alice.lines.length = 0

      proxy.blackhole()
      for (let i = 0; i < 20; i++) alice.send(`CHAT late-${i}`)
      await alice.expect(/^ERR unavailable /, 5000)
      // Told before anyone else may take her out of the room.
      expect(bob.lines).not.toContain('LEFT r alice')
      await alice.closed()
      await bob.expect('LEFT r alice', 10_000)
      // While fenced, a newcomer is told so and closed at once, and the node says why.
      const newcomer = await connect(a.port)
      await newcomer.expect(/^ERR unavailable /)
      await newcomer.closed()
      expect(newcomer.lines.some((line) => line.startsWith('WELCOME'))).toBe(false)
      const fenced = a.server.snapshot()
      expect(fenced.cluster).toMatchObject({ redisReachable: false, fenced: expect.any(String) })
      expect(formatStatus(fenced.totals, fenced.cluster)).toContain('redis unreachable FENCED')

      // The link comes back with everything it held, alice's late appends first: Redis refuses them.
      proxy.restore()
      const back = await memberOnceBack(a.port, 'alice', 15_000)
      await bob.expect('JOINED r alice')
      back.send('CHAT back')
      await bob.expect('MSG r alice back')
      expect(heardByBob.filter((line) => line.includes('late-'))).toEqual([])
      // Refused by Redis itself: not in the room's stream at all.
      const stream = await cluster.admin.xrange(keys.roomLog('r'), '-', '+')
      // A msgs entry holds `<nick> <text>` lines: no line of alice's says late-.
      expect(stream.filter(([, fields]) => fields.some((field) => /(^|\n)alice late-/.test(field)))).toEqual([])
      expect(a.server.snapshot().cluster).toMatchObject({ redisReachable: true, fenced: null })
      // Nothing of the fenced sessions left behind: the room read for the one member here, Redis's members the two.
      await waitFor('the room read for its one member here', () => a.server.snapshot().cluster!.rooms.map((room) => `${room.room}:${room.localMembers}`).join() === 'r:1')
      expect((await cluster.admin.hvals(keys.roomMembers('r'))).sort()).toEqual(['alice', 'bob'])
    } finally {
      await proxy.stop()
    }
  }, 40_000)
})

describe('a lease gone while Redis kept its data (evicted, deleted)', () => {
  it('fences the node, as a reaper may be taking it, rather than taking the lease back under the same epoch', async () => {
    const { a, alice, bob } = await aliceAndBob(1500)
    await cluster.admin.del(keys.nodeLease('a'))
    await alice.expect(/^ERR unavailable /, 5000)
    await bob.expect('LEFT r alice', 10_000)
    const back = await memberOnceBack(a.port, 'alice', 15_000)
    back.send('CHAT back')
    await bob.expect('MSG r alice back')
  }, 30_000)
})

describe('a Redis stall', () => {
  it('shorter than the lease costs no session its nick or presence', async () => {
    const { alice, bob } = await aliceAndBob(3000)
    cluster.redis.pause()
    await sleep(1500)
    cluster.redis.resume()
    alice.send('CHAT after the stall')
    await bob.expect('MSG r alice after the stall')
    bob.send('NICK alice')
    await bob.expect('ERR nick-taken nick alice is taken')
    bob.send('WHO')
    await bob.expect('USERS r alice bob')
    expect([...alice.lines, ...bob.lines].filter((line) => /^(BYE|ERR unavailable)/.test(line))).toEqual([])
  }, 20_000)

  it('longer than the lease fences every node: sessions told and closed, and back with their nicks once Redis is', async () => {
    const { a, b, alice, bob } = await aliceAndBob(1500)
    cluster.redis.pause()
    try {
      for (const c of [alice, bob]) {
        await c.expect(/^ERR unavailable /, 5000)
        await c.closed()
      }
    } finally {
      cluster.redis.resume()
    }
    const [alice2, bob2] = await Promise.all([memberOnceBack(a.port, 'alice', 15_000), memberOnceBack(b.port, 'bob', 15_000)])
    alice2.send('CHAT together again')
    await bob2.expect('MSG r alice together again')
    bob2.send('WHO')
    await bob2.expect('USERS-END r 2')
  }, 40_000)
})

/** Sends `line` until its answer is not ERR unavailable (the cluster still re-registering), and returns that answer. */
async function onceSettled(c: TestClient, line: string, answer: RegExp): Promise<string> {
  for (;;) {
    c.send(line)
    const got = await c.expect(answer, 10_000)
    if (!got.startsWith('ERR unavailable')) return got
    await sleep(200)
  }
}

describe('connections during a stall', () => {
  it('count against --max-sessions while they wait to be admitted', async () => {
    const { port } = await node('a', { maxSessions: 3, tuning: { leaseMs: 5000 } })
    cluster.redis.pause()
    try {
      const waiting = await Promise.all([1, 2, 3].map(() => connect(port)))
      const extra = await connect(port)
      await extra.expect(/^ERR server-full /)
      await extra.closed()
      expect(waiting.every((c) => c.closedWith === null)).toBe(true)
    } finally {
      cluster.redis.resume()
    }
  }, 20_000)

  it('are announced once each after it, not line by line: who came and went meanwhile is not announced at all', async () => {
    const tuning = { leaseMs: 5000 }
    const [a, b] = await Promise.all([node('a', { tuning }), node('b', { tuning })])
    const watcher = await member(b.port, 'watcher', 'lobby')
    const heard: string[] = []
    watcher.client.on('line', (line) => heard.push(line))
    let stayer: TestClient
    cluster.redis.pause()
    try {
      for (let i = 0; i < 10; i++) await (await connect(a.port)).close()
      stayer = await connect(a.port)
      await sleep(1200)
    } finally {
      cluster.redis.resume()
    }
    const [, , nick] = (await stayer.expect(/^WELCOME /, 10_000)).split(' ')
    await watcher.expect(`JOINED lobby ${nick}`, 10_000)
    watcher.send('PING after')
    await watcher.expect('PONG after')
    expect(heard.filter((line) => /^(JOINED|LEFT) /.test(line))).toEqual([`JOINED lobby ${nick}`])
  }, 20_000)
})

describe('Redis that lost its data', () => {
  const faults = {
    'restarted empty': () => cluster.redis.restartEmpty(),
    flushed: () => cluster.admin.flushall()
  }
  for (const [fault, lose] of Object.entries(faults)) {
    it(`(${fault}) gets back what the nodes hold, and never lets a live session’s nick go to another`, async () => {
      const { alice, bob } = await aliceAndBob(1500)
      await lose()
      // At once: refused while the nodes re-register, never granted.
      bob.send('NICK alice')
      expect(await bob.expect(/^(ERR|NICK) /, 10_000)).toMatch(/^ERR (unavailable|nick-taken) /)
      expect(await onceSettled(bob, 'NICK alice', /^(ERR|NICK) /)).toBe('ERR nick-taken nick alice is taken')
      bob.send('WHO')
      // Registered again in whichever order the nodes got to it.
      expect((await bob.expect(/^USERS r /)).split(' ').slice(2).sort()).toEqual(['alice', 'bob'])
      alice.send('CHAT still me')
      await bob.expect('MSG r alice still me')
      expect([...alice.lines, ...bob.lines].filter((line) => /^(BYE|ERR unavailable this node)/.test(line))).toEqual([])
      expect(await cluster.admin.smembers(keys.nodes)).toEqual(expect.arrayContaining(['a', 'b']))
      // Guest numbers handed out before the loss (blocks 1-1000 and 1001-2000) are not handed out again.
      const newcomer = await connect((await node('c', { tuning: { leaseMs: 1500 } })).port)
      const [, , guest] = (await newcomer.expect(/^WELCOME /)).split(' ')
      expect(Number(guest.slice('guest-'.length))).toBeGreaterThan(2000)
    }, 30_000)
  }
})

describe('reaping', () => {
  it('goes on past a node whose heartbeat cannot be read', async () => {
    const a = await node('a', { tuning: { leaseMs: 1500 } })
    const watcher = await member(a.port, 'watcher')
    const { admin } = cluster
    const record = { subject: 'ghost.0/1', nick: 'ghostly', room: 'r', remote: '127.0.0.1:1', listener: 'line:1', connectedAt: 0 }
    // A node alive with a heartbeat nobody can parse, listed before a dead node that left a member in r.
    await admin
      .multi()
      .sadd(keys.nodes, 'garbled', 'ghost')
      .set(keys.nodeBeat('garbled'), 'not json', 'PX', 60_000)
      .set(keys.nodeLease('garbled'), 'garbled.0.1', 'PX', 60_000)
      .hset(keys.nodeSessions('ghost'), '1', JSON.stringify(record))
      .hset(keys.roomMembers('r'), 'ghost/1', 'ghostly')
      .exec()
    await watcher.expect('LEFT r ghostly', 10_000)
    await waitFor('the garbled node left out of the view', () => a.server.snapshot().cluster!.nodes.map((n) => n.id).join() === 'a')
  }, 20_000)
})
