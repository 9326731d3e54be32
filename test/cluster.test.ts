import { spawn, type ChildProcess } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { resolveLoadConfig, runLoad } from '../src/main/core/load'
import { clusterBackend } from '../src/main/core/cluster/cluster-chat'
import { keys } from '../src/main/core/cluster/keys'
import { ChatServer } from '../src/main/core/server/server'
import { LOAD_AGENT_FILE, TestClient, waitFor, sessionsOf } from './helpers'
import { freePort } from '../scripts/asio-reference'
import { clusterFixture, msgs, waitForAsync } from './cluster-nodes'

const cluster = clusterFixture()
const { node, member, twoNodes, clients } = cluster

describe('a cluster of nodes sharing rooms through Redis', () => {
  it('gives every member on every node one order, and keeps each sender’s', async () => {
    const nodes = await Promise.all(['n1', 'n2', 'n3'].map((id) => node(id)))
    const members: TestClient[] = []
    for (const [i, { port }] of nodes.entries()) {
      for (const j of [0, 1]) members.push(await member(port, `u${i}${j}`))
    }
    const perSender = 60
    for (let k = 0; k < perSender; k++) {
      for (const [s, c] of members.entries()) c.send(`CHAT ${s}:${k}`)
    }
    const total = perSender * members.length
    for (const c of members) await c.until(`${total} messages`, () => msgs(c).length >= total, 15_000)
    const order = msgs(members[0])
    for (const c of members) expect(msgs(c)).toEqual(order)
    for (let s = 0; s < members.length; s++) {
      const own = order.filter((line) => line.split(' ')[3].startsWith(`${s}:`)).map((line) => Number(line.split(':')[1]))
      expect(own).toEqual([...Array(perSender).keys()])
    }
  }, 30_000)

  it('announces presence to every node in the stream order, and shows nothing from before a join', async () => {
    const [a, b] = await twoNodes()
    const early = await member(a.port, 'early')
    early.send('CHAT before')
    await early.expect('MSG r early before')
    const late = await member(b.port, 'late')
    await early.expect('JOINED r late')
    late.send('NICK later')
    await early.expect('NICK late later')
    await late.expect('NICK late later')
    late.send('JOIN elsewhere')
    await early.expect('LEFT r later')
    await late.expect('LEFT r later')
    await late.expect('JOINED elsewhere later')
    expect(late.lines.join('\n')).not.toContain('before')
  })

  it('keeps a session’s replies after its own messages, as one process would', async () => {
    const [a, b] = await twoNodes()
    const listener = await member(b.port, 'listener')
    const talker = await member(a.port, 'talker')
    await listener.expect('JOINED r talker')
    talker.send('CHAT one')
    talker.send('CHAT two')
    talker.send('PING after')
    talker.send('BOGUS')
    talker.send('QUIT done')
    await talker.closed()
    expect(talker.lines).toEqual(['MSG r talker one', 'MSG r talker two', 'PONG after', expect.stringMatching(/^ERR unknown-command /), 'BYE done'])
    await listener.expect('MSG r talker two')
    await listener.expect('LEFT r talker')
  })

  it('appends a message before the LEFT that follows it in the same read', async () => {
    const [a, b] = await twoNodes()
    const watcher = await member(b.port, 'watcher')
    const mover = await member(a.port, 'mover')
    await watcher.expect('JOINED r mover')
    // One write: the message (gathered for the turn's entry) and the JOIN's LEFT are committed back to back.
    mover.send('CHAT bye\nJOIN other')
    await mover.expect('JOINED other mover')
    expect(await watcher.expect(/^(MSG|LEFT) r mover/)).toBe('MSG r mover bye')
    await watcher.expect('LEFT r mover')
  })

  it('announces presence only to the session concerned in a room above the presence limit, on every node', async () => {
    const [a, b] = await twoNodes({ presenceLimit: 1 })
    const first = await member(a.port, 'first')
    const second = await member(b.port, 'second')
    first.send('CHAT hello')
    await second.expect('MSG r first hello')
    second.send('NICK renamed')
    await second.expect('NICK second renamed')
    first.send('PING sync')
    await first.until('PONG', (lines) => lines.includes('PONG sync'))
    // Neither the newcomer's JOINED nor its rename reached the other member: the room (2) is above the limit (1).
    expect(first.lines).toEqual(['MSG r first hello', 'PONG sync'])
  })

  it('refuses to start a node without Redis, or with the id of a live node', async () => {
    await node('taken')
    const twin = new ChatServer({ listeners: [{ codec: 'line', host: '127.0.0.1', port: 0 }], workers: 0, lineBackend: clusterBackend({ redis: cluster.redis.url, nodeId: 'taken' }) })
    await expect(twin.start()).rejects.toThrow(/node id taken is in use/)
    const port = await freePort()
    const lonely = new ChatServer({ listeners: [{ codec: 'line', host: '127.0.0.1', port: 0 }], workers: 0, lineBackend: clusterBackend({ redis: `redis://127.0.0.1:${port}`, nodeId: 'x' }) })
    await expect(lonely.start()).rejects.toThrow(/cannot reach Redis at redis:\/\/127.0.0.1:\d+: .*ECONNREFUSED/)
  })

  it('passes the traffic lab’s order check with clients spread over two nodes', async () => {
    const [a, b] = await twoNodes()
    const targets = [a, b].map(({ port }) => ({ host: '127.0.0.1', port }))
    const report = await runLoad(resolveLoadConfig({ targets, codec: 'line', clients: 12, roomSize: 4, messages: 30, window: 4, agents: 2 }), {
      agentFile: LOAD_AGENT_FILE
    })
    expect(report.complete).toBe(true)
    expect(report.order).toEqual({ rooms: 3, split: 0 })
    expect(report.targets.map((t) => t.connected)).toEqual([6, 6])
  }, 30_000)

  it('lets members go by every path: the rooms it reads and their member hashes come back to empty', async () => {
    const { server, port } = await node('a')
    let rooms: string[] | null = null
    server.on('metrics', (snapshot) => (rooms = snapshot.cluster!.rooms.map((room) => `${room.room}:${room.localMembers}`)))
    const { admin } = cluster
    for (let i = 0; i < 20; i++) {
      const c = await TestClient.connect({ port })
      clients.push(c)
      const [, id] = (await c.expect(/^WELCOME /)).split(' ')
      await c.expect(/^JOINED lobby /)
      const path = i % 4
      if (path === 0) await c.close()
      if (path === 1) c.send('QUIT bye')
      if (path === 2) server.kick(Number(id), 'by the test')
      if (path === 3) {
        c.send(`JOIN elsewhere-${i}`)
        await c.expect(/^JOINED elsewhere-/)
        await c.close()
      }
      await c.closed()
    }
    await waitFor('no room read or held here', () => rooms?.length === 0)
    // Redis drops a hash with its last field: no members hash is left once every LEFT is in.
    await waitForAsync('no member left in Redis', async () => (await admin.keys('sb:*:members')).length === 0)
  })

  it('answers what Redis refuses with ERR unavailable: the session goes on, and one it cannot admit is refused and closed', async () => {
    const [a, b] = await twoNodes()
    const alice = await member(a.port, 'alice')
    const bob = await member(b.port, 'bob')
    await alice.expect('JOINED r bob')
    const logged: string[] = []
    for (const { server } of [a, b]) server.on('log', (event) => logged.push(event.text))
    const { admin } = cluster
    try {
      await admin.config('SET', 'maxmemory-policy', 'noeviction')
      await admin.config('SET', 'maxmemory', '1')
      alice.send('CHAT refused')
      await alice.expect(/^ERR unavailable the cluster's Redis refused it: OOM /)
      // Refused as a whole: she stays in r, and nobody hears her leave it.
      alice.send('JOIN elsewhere')
      await alice.expect(/^ERR unavailable the cluster's Redis refused it: OOM /)
      alice.send('PING still here')
      await alice.expect('PONG still here')
      // Not admitted cluster-wide, so not admitted at all: no session that no other node can see.
      const late = await TestClient.connect({ port: b.port })
      clients.push(late)
      await late.expect(/^ERR unavailable the cluster's Redis refused it: OOM /)
      await late.closed()
      expect(late.lines.some((line) => line.startsWith('WELCOME'))).toBe(false)

      await admin.config('SET', 'maxmemory', '0')
      alice.send('CHAT back')
      // All bob heard: not the refused message, not a LEFT for the refused JOIN.
      await bob.until('alice back', (lines) => lines.includes('MSG r alice back'))
      expect(bob.lines).toEqual(['MSG r alice back'])
      // A refused append took no place in its origin's sequence: nobody reads a gap into it.
      expect(logged.filter((text) => text.includes('were trimmed'))).toEqual([])
      alice.send('WHO')
      await alice.expect('USERS r alice bob')
    } finally {
      await admin.config('SET', 'maxmemory', '0')
    }
  })

  it("lets an emptied room's stream expire after the room TTL: a minute by default, --room-ttl to change it", async () => {
    const { admin } = cluster
    const { port } = await node('a')
    const brief = await member(port, 'brief', 'brief')
    brief.send('CHAT soon gone')
    await brief.expect('MSG brief brief soon gone')
    await brief.close()
    await waitForAsync('the room emptied', async () => (await admin.ttl(keys.roomLog('brief'))) > 0)
    expect(await admin.ttl(keys.roomLog('brief'))).toBeLessThanOrEqual(60)
    expect(await admin.exists(keys.roomMembers('brief'))).toBe(0)

    const tuned = await node('tuned', { tuning: { emptyRoomTtlS: 1 } })
    const fleeting = await member(tuned.port, 'fleeting', 'fleeting')
    await fleeting.close()
    await waitForAsync('the emptied stream gone', async () => (await admin.exists(keys.roomLog('fleeting'))) === 0)
  })

  it('keeps nicks unique across nodes and lists WHO across nodes', async () => {
    const [a, b] = await twoNodes()
    const alice = await member(a.port, 'alice')
    const bob = await member(b.port, 'bob')
    bob.send('NICK ALICE')
    await bob.expect('ERR nick-taken nick ALICE is taken')
    bob.send('WHO')
    await bob.expect('USERS r alice bob')
    await bob.expect('USERS-END r 2')
    bob.send('HELP')
    await bob.expect(/^HELP AUTH <user> <password>, NICK <name>, .*, RESUME <room> <id>$/)
    await alice.close()
    await bob.expect('LEFT r alice')
    bob.send('NICK alice')
    await bob.expect('NICK bob alice')
  })

  it('loses nothing and doubles nothing when Redis restarts mid-traffic', async () => {
    const [a, b] = await twoNodes()
    const members = [await member(a.port, 'a1'), await member(b.port, 'b1'), await member(a.port, 'a2')]
    const perSender = 300
    let sent = 0
    const sender = setInterval(() => {
      for (const [s, c] of members.entries()) c.send(`CHAT ${s}:${sent}`)
      if (++sent === perSender) clearInterval(sender)
    }, 2)
    await waitFor('traffic under way', () => sent > 50)
    await cluster.redis.restart(300)
    await waitFor('everything sent', () => sent === perSender, 20_000)
    // Last, a marker from each: in stream order after every entry before it, a resent copy included.
    for (const [s, c] of members.entries()) c.send(`CHAT end-${s}`)
    const total = perSender * members.length + members.length
    for (const c of members) await c.until('every end marker', () => members.every((_, s) => msgs(c).some((line) => line.endsWith(` end-${s}`))), 20_000)
    const order = msgs(members[0])
    expect(order).toHaveLength(total)
    expect(new Set(order).size).toBe(total)
    for (const c of members) expect(msgs(c)).toEqual(order)
  }, 40_000)

  it('kicks a session of another node through Redis', async () => {
    const [a, b] = await twoNodes()
    await member(a.port, 'watcher')
    const victim = await member(b.port, 'victim')
    const id = sessionsOf(b.server)[0].id
    expect(await a.server.kickRemote('b', id, 'by a test')).toBe(true)
    await victim.expect('BYE kicked by a test')
    expect(await a.server.kickRemote('nobody', id, 'by a test')).toBe(false)
  })

  it('keeps presence in order when Redis forgot its scripts', async () => {
    const [a, b] = await twoNodes()
    const watcher = await member(b.port, 'watcher')
    const renamer = await member(a.port, 'renamer')
    const { admin } = cluster
    await admin.script('FLUSH')
    renamer.send('NICK renamed')
    renamer.send('CHAT after')
    await watcher.expect('NICK renamer renamed')
    await watcher.expect('MSG r renamed after')
  })

  it('lets an empty room’s stream expire, and keeps it while anyone is in', async () => {
    const { port } = await node('a')
    const only = await member(port, 'only', 'brief')
    const { admin } = cluster
    expect(await admin.ttl('sb:{brief}:log')).toBe(-1)
    await only.close()
    let ttl = -1
    for (const deadline = Date.now() + 5000; ttl < 0 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) ttl = await admin.ttl('sb:{brief}:log')
    expect(ttl).toBeGreaterThan(0)
  })

  it('stops within its deadline while Redis is down', async () => {
    const { server, port } = await node('a')
    await member(port, 'stranded')
    const down = cluster.redis.restart(4000)
    await waitFor('Redis gone', () => server.snapshot().cluster?.redisReachable === false)
    const startedAt = Date.now()
    await server.stop()
    expect(Date.now() - startedAt).toBeLessThan(server.options.shutdownDeadlineMs + 500)
    await down
  }, 15_000)

  it('tells a reader that fell behind the stream’s trimming what it missed', async () => {
    const { server, port } = await node('a')
    await member(port, 'reader')
    const { admin } = cluster
    // Entries of another node's run, numbered 1 then 5: 2-4 were trimmed before this node read them.
    for (const seq of ['1', '5']) await admin.xadd('sb:{r}:log', '*', 'k', 'msgs', 'o', 'gone.0', 'q', seq, 'm', `x ${seq}`)
    await waitFor('the loss counted', () => server.snapshot().cluster?.entriesLost === 3)
  })
})

describe('a node killed with SIGKILL', () => {
  let child: ChildProcess | undefined
  afterEach(() => {
    child?.kill('SIGKILL')
  })

  it('is noticed by the others within 10 s: its sessions LEFT, its nicks free, the rest served', async () => {
    const survivor = await node('survivor')
    const watcher = await member(survivor.port, 'watcher')
    const port = await freePort()
    child = spawn(process.execPath, ['out/main/cli.js', 'serve', '--listen', `line:${port}`, '--workers', '0', '--status-ms', '0', '--cluster', cluster.redis.url, '--node-id', 'doomed'], {
      stdio: 'ignore'
    })
    let doomed: TestClient | undefined
    for (let attempt = 0; !doomed; attempt++) {
      doomed = await member(port, 'doomed-user').catch(async (error) => {
        if (attempt > 50) throw error
        await new Promise((resolve) => setTimeout(resolve, 100))
        return undefined
      })
    }
    await watcher.expect('JOINED r doomed-user')
    child.kill('SIGKILL')
    const killedAt = Date.now()
    await watcher.expect('LEFT r doomed-user', 10_000)
    expect(Date.now() - killedAt).toBeLessThan(10_000)
    watcher.send('NICK doomed-user')
    await watcher.expect('NICK watcher doomed-user')
    watcher.send('CHAT still here')
    await watcher.expect('MSG r doomed-user still here')
    await waitFor('the reap counted', () => survivor.server.snapshot().cluster?.nodesReaped === 1)
  }, 30_000)
})
