// The line protocol's conformance fixtures: the same tests over each LineBackend, a process of its own and
// a two-node cluster through a real Redis. What differs between them is named here, and only here:
// - guest numbers (below);
// - an ERR the server sends as it closes a session may come before the echo of a CHAT sent just before it,
//   which comes back from Redis (docs/PROTOCOL.md); no test here sends one so, replies do come first.
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll } from 'vitest'
import { clusterBackend } from '../src/main/core/cluster/cluster-chat'
import type { ChatServer } from '../src/main/core/server/server'
import type { ServerOptions } from '../src/main/core/server/options'
import type { ClientOptions } from '../src/main/core/client/client'
import { RedisServer } from '../scripts/redis-server'
import { joinLine, startServer, TestClient } from './helpers'

export interface LineBackendUnderTest {
  name: string
  /** Nodes the sessions are spread over: the k-th `join` of a test goes to node k mod nodes. */
  nodes: number
  /** A process of its own names its guests by session id; a cluster numbers them cluster-wide. */
  guestIsSessionId: boolean
}

export const LINE_BACKENDS: LineBackendUnderTest[] = [
  { name: 'one node', nodes: 1, guestIsSessionId: true },
  { name: 'a two-node cluster', nodes: 2, guestIsSessionId: false }
]

/**
 * Servers and clients for one describe block over `backend`: whatever a test starts is closed after it
 * (and, in a cluster, Redis emptied). `start()` starts the nodes and returns the first one's port; limits
 * such as `maxSessions` hold per node.
 */
export function lineFixture(backend: LineBackendUnderTest) {
  let redis: RedisServer | null = null
  let nodes: { server: ChatServer; port: number }[] = []
  const clients: TestClient[] = []
  let joins = 0
  if (backend.nodes > 1) {
    beforeAll(async () => {
      redis = await RedisServer.start()
    })
    afterAll(async () => {
      await redis?.stop()
    })
  }
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()))
    await Promise.all(nodes.map(({ server }) => server.stop()))
    nodes = []
    joins = 0
    if (redis) {
      const admin = new Redis(redis.url)
      await admin.flushall()
      admin.disconnect()
    }
  })
  const nodeOptions = (i: number): Partial<ServerOptions> => (redis ? { lineBackend: clusterBackend({ redis: redis.url, nodeId: `node-${i}` }) } : {})
  return {
    nodes: backend.nodes,
    /** The first node: the one `start()`'s port names. */
    get server(): ChatServer {
      if (nodes.length === 0) throw new Error('no server started')
      return nodes[0].server
    },
    /** Every node, in order. */
    get servers(): ChatServer[] {
      return nodes.map(({ server }) => server)
    },
    /** Every node's port, in order. */
    get ports(): number[] {
      return nodes.map(({ port }) => port)
    },
    async start(options: Partial<ServerOptions> = {}): Promise<number> {
      for (let i = 0; i < backend.nodes; i++) nodes.push(await startServer({ ...options, ...nodeOptions(i) }))
      return nodes[0].port
    },
    /**
     * A line client that has read its WELCOME, and the node it is on (null for a port that is no node's).
     * The first node's port (what `start()` returned) means the next node in turn; any other port (another
     * listener, another server) is taken as given.
     */
    async join(port: number) {
      const node = nodes.length > 0 && port === nodes[0].port ? nodes[joins++ % nodes.length] : nodes.find((n) => n.port === port)
      const joined = await joinLine(node?.port ?? port)
      clients.push(joined.c)
      return { ...joined, server: node?.server ?? null }
    },
    /** Any client, to the node its options name, closed after the test. */
    async connect(options: ClientOptions): Promise<TestClient> {
      const client = await TestClient.connect(options)
      clients.push(client)
      return client
    }
  }
}

/** One node for a test file that needs nothing of a cluster (the asio relay, the logic stage, the load engine). */
export const serverFixture = () => lineFixture(LINE_BACKENDS[0])
