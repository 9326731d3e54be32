// A node's memory while Redis stalls, measured on a node in a process of its own (its RSS is its own), with
// the lease long enough that the node does not fence itself during the stall: the bound alone must hold.
import { connect, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { keys } from '../src/main/core/cluster/keys'
import { TestClient, waitFor } from './helpers'
import { clusterFixture, spawnNode, waitForAsync } from './cluster-nodes'

const cluster = clusterFixture()
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A client that sends 4 KB CHAT lines as fast as its socket takes them, and counts the ERR unavailable it gets. */
function flood(port: number): { stop(): void; refused(): number } {
  const line = Buffer.from(`CHAT ${'x'.repeat(4000)}\n`)
  let refused = 0
  let stopped = false
  let tail = ''
  const socket: Socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  socket.on('data', (chunk: Buffer) => {
    const text = tail + chunk.toString('latin1')
    const lines = text.split('\n')
    tail = lines.pop()!
    for (const l of lines) if (l.startsWith('ERR unavailable')) refused++
  })
  const pump = () => {
    while (!stopped && socket.write(line));
  }
  socket.on('drain', pump)
  socket.once('connect', pump)
  return {
    stop() {
      stopped = true
      socket.destroy()
    },
    refused: () => refused
  }
}

describe('a node while Redis stalls', () => {
  it('holds at most its bound waiting on Redis: past it, lines that need Redis get ERR unavailable', async () => {
    const node = await spawnNode(cluster.redis.url, 'a', ['--max-rate', '0', '--lease-ms', '60000'])
    const watcher = await cluster.member(node.port, 'watcher')
    const before = node.rssMb()
    let peak = before
    // The stall first, then the crowd: nothing they send can reach Redis.
    cluster.redis.pause()
    const floods = Array.from({ length: 100 }, () => flood(node.port))
    const sampler = setInterval(() => (peak = Math.max(peak, node.rssMb())), 100)
    try {
      await sleep(8000)
      clearInterval(sampler)
      console.log(`node RSS ${before.toFixed(0)} MB before the stall, ${peak.toFixed(0)} MB at its peak in it`)
      expect(peak - before).toBeLessThan(150)
      cluster.redis.resume()
      // Told in their turn, once the sessions are in (their JOIN waited on Redis too).
      await waitFor('lines refused for the bound', () => floods.some((f) => f.refused() > 0), 20_000)
    } finally {
      clearInterval(sampler)
      cluster.redis.resume()
      for (const f of floods) f.stop()
    }
    // Served again once Redis has taken the backlog.
    for (let attempt = 0; ; attempt++) {
      watcher.send(`CHAT served again ${attempt}`)
      const answer = await watcher.expect(/^(MSG r watcher served again|ERR unavailable)/, 10_000)
      if (answer.startsWith('MSG')) break
      if (attempt > 40) throw new Error(`still refused: ${answer}`)
      await sleep(500)
    }
  }, 60_000)
})

describe('a node under connect/close churn', () => {
  it('returns to its baseline: RSS grows < 30 MB over 2,000 cycles after a warm-up, and a lobby round trip stays under 2x', async () => {
    // V8 grows its young generation once under steady allocation, by up to ~45 MB (16 MB semi-spaces) whatever
    // the cycles, sometimes after the warm-up: capped here, what RSS shows is what churn leaves behind.
    const node = await spawnNode(cluster.redis.url, 'a', ['--max-rate', '0'], ['--max-semi-space-size=2'])
    const watcher = await cluster.connect(node.port)
    await watcher.expect(/^JOINED lobby /)
    /** The median of 50 lobby round trips (a CHAT and its echo), in ms. */
    const roundTrip = async (): Promise<number> => {
      const times: number[] = []
      for (let i = 0; i < 50; i++) {
        const sentAt = performance.now()
        watcher.send(`CHAT rt-${i}`)
        await watcher.expect(new RegExp(` rt-${i}$`))
        times.push(performance.now() - sentAt)
      }
      return times.sort((a, b) => a - b)[25]
    }
    const cycles = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const c = await TestClient.connect({ port: node.port })
        await c.expect(/^JOINED lobby /)
        await c.close()
      }
    }
    await cycles(200)
    const warm = { rss: node.rssMb(), roundTrip: await roundTrip() }
    await cycles(2000)
    // Every LEFT in: the lobby's member hash is back to the watcher alone.
    await waitForAsync('the churned sessions gone from Redis', async () => (await cluster.admin.hlen(keys.roomMembers('lobby'))) === 1, 10_000)
    const after = { rss: node.rssMb(), roundTrip: await roundTrip() }
    console.log(`after 200 cycles: RSS ${warm.rss.toFixed(0)} MB, round trip ${warm.roundTrip.toFixed(2)} ms; after 2,000 more: ${after.rss.toFixed(0)} MB, ${after.roundTrip.toFixed(2)} ms`)
    expect(after.rss - warm.rss).toBeLessThan(30)
    // 2x, plus 1 ms of slack: a sub-millisecond median on a shared 2-core machine jitters by that much alone.
    expect(after.roundTrip).toBeLessThan(2 * warm.roundTrip + 1)
  }, 120_000)
})

describe('Redis memory', () => {
  /** Redis's used_memory now, in MB. */
  const usedMb = async () => Number(/used_memory:(\d+)/.exec(await cluster.admin.info('memory'))![1]) / 2 ** 20
  const text = 'y'.repeat(4000)

  it('caps a busy room’s stream in bytes as well as entries', async () => {
    const { port } = await cluster.node('a', { maxRate: 0 })
    const busy = await cluster.member(port, 'busy', 'busy')
    for (let n = 1; n <= 3000; n++) {
      busy.send(`CHAT ${n} ${text}`)
      if (n % 100 === 0) await busy.expect(new RegExp(`^MSG busy busy ${n} `))
    }
    // 3,000 lines of 4 KB: capped near 2 MB (about 500 of them), not at 10,000 entries (40 MB).
    expect(await cluster.admin.xlen(keys.roomLog('busy'))).toBeLessThan(1000)
    expect(Number(await cluster.admin.memory('USAGE', keys.roomLog('busy')))).toBeLessThan(4 * 2 ** 20)
  }, 60_000)

  it('stays under 100 MB while sessions hop over distinct rooms with 4 KB lines', async () => {
    const [a, b] = await cluster.twoNodes({ maxRate: 0 })
    const hoppers = await Promise.all(Array.from({ length: 20 }, (_, i) => cluster.member((i % 2 ? b : a).port, `hopper${i}`, `start-${i}`)))
    const before = await usedMb()
    let peak = before
    const sampler = setInterval(() => void usedMb().then((mb) => (peak = Math.max(peak, mb))), 200)
    let hops = 0
    const deadline = Date.now() + 10_000
    try {
      await Promise.all(
        hoppers.map(async (c, i) => {
          for (let hop = 0; Date.now() < deadline; hop += 25) {
            for (let k = hop; k < hop + 25; k++) {
              c.send(`JOIN room-${i}-${k}`)
              c.send(`CHAT ${text}`)
            }
            await c.expect(new RegExp(`^MSG room-${i}-${hop + 24} `), 20_000)
            hops += 25
          }
        })
      )
    } finally {
      clearInterval(sampler)
    }
    console.log(`${hops} hops over distinct rooms in 10 s: Redis ${before.toFixed(0)} MB before, ${peak.toFixed(0)} MB at its peak, ${await cluster.admin.dbsize()} keys after`)
    expect(peak).toBeLessThan(100)
  }, 60_000)
})
