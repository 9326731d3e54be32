// Nodes of a cluster on a real redis-server of the test file's own, and line clients of theirs: whatever a
// test starts is closed after it, and Redis emptied, so every test starts from an empty cluster.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll } from 'vitest'
import { CLUSTER_TUNING, clusterBackend, type ClusterTuning } from '../src/main/core/cluster/cluster-chat'
import { ChatServer } from '../src/main/core/server/server'
import type { ServerOptions } from '../src/main/core/server/options'
import { freePort } from '../scripts/asio-reference'
import { RedisServer } from '../scripts/redis-server'
import { TestClient, WORKER_FILE } from './helpers'

export interface NodeOptions extends Partial<ServerOptions> {
  tuning?: Partial<ClusterTuning>
  /** Where this node reaches Redis, if not directly (a proxy of the test's). */
  redisUrl?: string
}

export function clusterFixture() {
  const fixture = {
    redis: null as unknown as RedisServer,
    /** A connection of the test's own to Redis, for looking and for making faults. */
    admin: null as unknown as Redis,
    servers: [] as ChatServer[],
    clients: [] as TestClient[],

    async node(nodeId: string, { tuning, redisUrl, ...options }: NodeOptions = {}): Promise<{ server: ChatServer; port: number }> {
      const server = new ChatServer({
        listeners: [{ codec: 'line', host: '127.0.0.1', port: 0 }],
        workerFile: WORKER_FILE,
        workers: 1,
        shutdownDeadlineMs: 2000,
        lineBackend: clusterBackend({ redis: redisUrl ?? fixture.redis.url, nodeId }, { ...CLUSTER_TUNING, ...tuning }),
        ...options
      })
      fixture.servers.push(server)
      const [bound] = await server.start()
      return { server, port: bound.port }
    },

    twoNodes(options: NodeOptions = {}) {
      return Promise.all([fixture.node('a', options), fixture.node('b', options)])
    },

    /** A line client of the node at `port`, closed after the test. */
    async connect(port: number): Promise<TestClient> {
      const c = await TestClient.connect({ port })
      fixture.clients.push(c)
      return c
    },

    /** A client in `room` on the node at `port`, named `nick`, once its PONG says it is in. */
    async member(port: number, nick: string, room = 'r'): Promise<TestClient> {
      const c = await fixture.connect(port)
      await c.expect(/^WELCOME /)
      c.send(`NICK ${nick}`)
      c.send(`JOIN ${room}`)
      c.send('PING in')
      await c.expect(`JOINED ${room} ${nick}`)
      await c.expect('PONG in')
      c.lines.length = 0
      return c
    }
  }
  beforeAll(async () => {
    fixture.redis = await RedisServer.start()
    fixture.admin = new Redis(fixture.redis.url, { maxRetriesPerRequest: null })
    // It reconnects by itself when a test restarts Redis.
    fixture.admin.on('error', () => {})
  })
  afterAll(async () => {
    fixture.admin?.disconnect()
    await fixture.redis?.stop()
  })
  afterEach(async () => {
    await Promise.all(fixture.clients.splice(0).map((c) => c.close()))
    await Promise.all(fixture.servers.splice(0).map((s) => s.stop()))
    await fixture.admin.flushall()
  })
  return fixture
}

export const msgs = (c: TestClient) => c.lines.filter((line) => line.startsWith('MSG '))

/** Polls an asynchronous condition (a Redis query) until it holds. */
export async function waitForAsync(what: string, predicate: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** A node in a process of its own (the built CLI), so that its memory is its own: killed after the test. */
export async function spawnNode(redisUrl: string, nodeId: string, flags: string[] = [], nodeFlags: string[] = []): Promise<{ child: ChildProcess; port: number; rssMb(): number }> {
  const port = await freePort()
  const child = spawn(process.execPath, [...nodeFlags, 'out/main/cli.js', 'serve', '--listen', `line:${port}`, '--workers', '0', '--status-ms', '0', '--cluster', redisUrl, '--node-id', nodeId, ...flags], {
    stdio: 'ignore'
  })
  spawned.push(child)
  // Up once it takes connections.
  for (let attempt = 0; ; attempt++) {
    const up = await new Promise<boolean>((resolve) => {
      const probe = connect(port, '127.0.0.1', () => resolve(true)).on('error', () => resolve(false))
      probe.once('connect', () => probe.destroy())
    })
    if (up) break
    if (attempt > 100 || child.exitCode !== null) throw new Error(`node ${nodeId} did not start`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024
  return { child, port, rssMb }
}

const spawned: ChildProcess[] = []
afterEach(() => {
  for (const child of spawned.splice(0)) child.kill('SIGKILL')
})
