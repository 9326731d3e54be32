// A cluster node reaching a Redis that wants a password, over TLS with a private CA: real redis-servers
// (Debian's 7.0, built with TLS) started with --requirepass, an ACL user, and --tls-port. A wrong password or
// an untrusted certificate stops the node before it listens, in one line of its own; the password shows nowhere.
import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../scripts/asio-reference'
import { BUILT_CLI as CLI } from '../scripts/built'
import { RedisServer } from '../scripts/redis-server'
import { TestCa, type Issued } from '../scripts/tls-certs'
import { clusterBackend } from '../src/main/core/cluster/cluster-chat'
import { splitRedisUrl, type RedisAccess } from '../src/main/core/cluster/config'
import { ChatServer } from '../src/main/core/server/server'
import { SwitchboardHost } from '../src/main/host/host'
import { OPERATOR_REACH } from '../src/main/host/reach'
import { DEFAULT_LIMITS } from '../src/shared/contract'
import { joinLine, LOAD_AGENT_FILE, WORKER_FILE } from './helpers'

const PASSWORD = 'hunter2-not-in-any-output'

describe('a Redis URL', () => {
  it('is split into the address anyone may see and the credentials only the connection gets', () => {
    expect(splitRedisUrl('redis://127.0.0.1:6379')).toEqual({ address: 'redis://127.0.0.1:6379' })
    expect(splitRedisUrl(`rediss://alice:${PASSWORD}@127.0.0.1:6380/2`)).toEqual({ address: 'rediss://127.0.0.1:6380/2', username: 'alice', password: PASSWORD })
    expect(splitRedisUrl('redis://:p%40ss@[::1]:6379')).toEqual({ address: 'redis://[::1]:6379', password: 'p@ss' })
    expect(() => splitRedisUrl(`redis://alice:${PASSWORD}@nowhere`)).toThrow('redis://nowhere is not redis[s]://host:port[/db]')
    expect(() => splitRedisUrl(`http://alice:${PASSWORD}@127.0.0.1:1`)).not.toThrow(PASSWORD)
  })
})

/** A node of its own on `access`'s Redis, started (or refused). */
async function nodeOn(access: RedisAccess) {
  const server = new ChatServer({
    listeners: [{ codec: 'line', host: '127.0.0.1', port: 0 }],
    workers: 0,
    lineBackend: clusterBackend({ redis: access.address, nodeId: 'n1' }, undefined, access)
  })
  try {
    const [bound] = await server.start()
    return { server, port: bound.port }
  } catch (error) {
    await server.stop()
    throw error
  }
}

describe('a Redis with a password', () => {
  let redis: RedisServer
  beforeAll(async () => {
    // An ACL user's rule is one config line, its words as arguments of their own.
    redis = await RedisServer.start(['--requirepass', PASSWORD, '--user', 'alice', 'on', `>${PASSWORD}`, '~*', '&*', '+@all'])
  })
  afterAll(() => redis?.stop())
  const address = () => `redis://127.0.0.1:${redis.port}`

  it('lets in a node with the password (the default user, or an ACL user), and never shows it', async () => {
    for (const access of [{ address: address(), password: PASSWORD }, { address: address(), username: 'alice', password: PASSWORD }]) {
      const { server, port } = await nodeOn(access)
      try {
        const { c } = await joinLine(port)
        c.send('CHAT through an authenticated Redis')
        await c.expect(/^MSG lobby \S+ through an authenticated Redis$/)
        expect(server.snapshot().cluster?.redis).toBe(address())
        expect(JSON.stringify(server.snapshot())).not.toContain(PASSWORD)
        await c.close()
      } finally {
        await server.stop()
      }
    }
  })

  it('refuses a node with a wrong password or none, saying it was authentication', async () => {
    await expect(nodeOn({ address: address(), password: 'wrong' })).rejects.toThrow(`Redis authentication failed at ${address()}: wrong user or password`)
    await expect(nodeOn({ address: address() })).rejects.toThrow(`Redis authentication failed at ${address()}: it wants a password`)
  })

  it('from the CLI: a wrong password exits non-zero before listening, with one line naming the cause', async () => {
    const port = await freePort()
    const run = spawnSync(process.execPath, [CLI, 'serve', '--listen', `line:${port}`, '--cluster', `redis://:wrong-${PASSWORD}@127.0.0.1:${redis.port}`, '--status-ms', '0'], {
      encoding: 'utf8',
      timeout: 20_000
    })
    expect(run.status).toBe(1)
    const errors = run.stderr.trim().split('\n')
    expect(errors).toEqual([`switchboard: cannot start: Redis authentication failed at ${address()}: wrong user or password (Redis said: WRONGPASS invalid username-password pair or user is disabled.)`])
    expect(run.stdout).not.toContain('listening on')
    expect(run.stdout + run.stderr).not.toContain(PASSWORD)
  })

  it("keeps the password out of the control room's state and settings", async () => {
    const kept: unknown[] = []
    const host = new SwitchboardHost({
      workerFile: WORKER_FILE,
      loadAgentFile: LOAD_AGENT_FILE,
      config: { listeners: [{ codec: 'line', host: '127.0.0.1', port: 0 }], workers: 0, workUs: 0, cluster: { redis: address(), nodeId: 'n2' }, limits: DEFAULT_LIMITS },
      settings: {
        kept: null,
        problem: null,
        save: (settings) => {
          kept.push(settings)
          return Promise.resolve(null)
        }
      },
      redisAccess: { address: address(), password: PASSWORD },
      reach: OPERATOR_REACH
    })
    try {
      const state = await host.startServer(host.serverState.config)
      expect(state.status).toBe('running')
      expect(JSON.stringify([state, host.serverState, kept])).not.toContain(PASSWORD)
      expect(kept.length).toBeGreaterThan(0)
    } finally {
      await host.dispose()
    }
  })
})

describe('a Redis over TLS with a private CA', () => {
  let ca: TestCa
  let cert: Issued
  let redis: RedisServer
  let tlsPort: number
  beforeAll(async () => {
    ca = TestCa.create()
    cert = ca.issue('redis', 'server')
    tlsPort = await freePort()
    redis = await RedisServer.start([
      '--port', '0',
      '--tls-port', String(tlsPort),
      '--tls-cert-file', cert.cert,
      '--tls-key-file', cert.key,
      '--tls-ca-cert-file', ca.ca,
      '--tls-auth-clients', 'no',
      '--requirepass', PASSWORD
    ])
  })
  afterAll(async () => {
    await redis?.stop()
    ca?.remove()
  })
  const address = () => `rediss://127.0.0.1:${tlsPort}`

  it('lets in a node that trusts the CA (--redis-ca), and refuses one that does not, saying why', async () => {
    const { server, port } = await nodeOn({ address: address(), password: PASSWORD, ca: ca.read(ca.ca) })
    try {
      const { c } = await joinLine(port)
      c.send('CHAT over TLS to Redis')
      await c.expect(/^MSG lobby \S+ over TLS to Redis$/)
      await c.close()
    } finally {
      await server.stop()
    }
    await expect(nodeOn({ address: address(), password: PASSWORD })).rejects.toThrow(`Redis's TLS certificate at ${address()} is not trusted`)
    await expect(nodeOn({ address: `redis://127.0.0.1:${tlsPort}`, password: PASSWORD })).rejects.toThrow(/Redis/)
  })

  it('from the CLI: trusts NODE_EXTRA_CA_CERTS, and without it exits before listening naming the certificate', async () => {
    const args = (port: number) => [CLI, 'serve', '--listen', `line:${port}`, '--cluster', address(), '--status-ms', '0', '--verbose']
    const env = { ...process.env, SWITCHBOARD_REDIS_PASSWORD: PASSWORD }
    const untrusted = spawnSync(process.execPath, args(await freePort()), { encoding: 'utf8', timeout: 20_000, env })
    expect(untrusted.status).toBe(1)
    expect(untrusted.stderr).toContain(`switchboard: cannot start: Redis's TLS certificate at ${address()} is not trusted`)
    expect(untrusted.stdout).not.toContain('listening on')
    // Trusted, it runs until told to stop: a SIGTERM once it is in, as an operator would send.
    const trusted = spawnSync(process.execPath, ['-e', stopWhenJoined(args(await freePort()))], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...env, NODE_EXTRA_CA_CERTS: ca.ca }
    })
    expect(trusted.stdout).toContain('listening on')
    expect(trusted.stdout).toContain(`joined the cluster at ${address()}`)
    expect(trusted.stdout + trusted.stderr).not.toContain(PASSWORD)
  })
})

/** A script that runs the CLI with `args`, sends it SIGTERM once it says it joined the cluster (printed after it listens, batched), and echoes its output. */
function stopWhenJoined(args: string[]): string {
  return `
    const child = require('node:child_process').spawn(process.execPath, ${JSON.stringify(args)}, { stdio: ['ignore', 'pipe', 'inherit'] })
    let seen = ''
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk)
      seen += chunk
      if (seen.includes('joined the cluster')) child.kill('SIGTERM')
    })`
}
