// TLS listeners with real certificates (openssl, test/tls-certs.ts): line and asio over TLS, a plaintext
// client refused without a word, a stalled handshake cut by the partial timeout, client certificates
// required with a CA, and the certificate read again (SIGHUP's reload) for new connections only.
import { copyFileSync } from 'node:fs'
import { connect as netConnect, createServer as createNetServer, type AddressInfo } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { ChatServer } from '../src/main/core/server/server'
import type { ServerOptions } from '../src/main/core/server/options'
import { spawn } from 'node:child_process'
import { freePort } from '../scripts/asio-reference'
import { BUILT_CLI as CLI } from '../scripts/built'
import { resolveLoadConfig, runLoad } from '../src/main/core/load'
import { LOAD_AGENT_FILE, startServer, TestClient, waitFor } from './helpers'
import { TestCa, type Issued } from '../scripts/tls-certs'

let ca: TestCa
let server: Issued
beforeAll(() => {
  ca = TestCa.create()
  server = ca.issue('switchboard', 'server')
})
afterAll(() => ca.remove())

const servers: ChatServer[] = []
const clients: TestClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await Promise.all(servers.splice(0).map((s) => s.stop()))
})

async function tlsServer(options: Partial<ServerOptions> = {}, codec: 'line' | 'asio' = 'line') {
  const started = await startServer({ maxRate: 0, listeners: [{ codec, host: '127.0.0.1', port: 0, tls: true }], tls: { cert: server.cert, key: server.key }, ...options })
  servers.push(started.server)
  return started
}

async function tlsClient(port: number, extra: { cert?: Buffer; key?: Buffer } = {}, codec: 'line' | 'asio' = 'line') {
  const c = await TestClient.connect({ port, codec, tls: { ca: ca.read(ca.ca), ...extra } })
  clients.push(c)
  return c
}

/** The SHA-256 fingerprint of the certificate a TLS listener presents now. */
function presented(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port, host: '127.0.0.1', ca: ca.read(ca.ca) }, () => {
      resolve(socket.getPeerCertificate().fingerprint256)
      socket.destroy()
    })
    socket.on('error', reject)
  })
}

describe('TLS listeners', () => {
  it('serve the line protocol over TLS, named tls+line, to a client that trusts the CA', async () => {
    const { server: s, port } = await tlsServer()
    expect(s.addresses.map((bound) => bound.name)).toEqual([`tls+line:${port}`])
    const a = await tlsClient(port)
    await a.expect(/^WELCOME /)
    a.send('NICK ada')
    a.send('CHAT over tls')
    await a.expect('MSG lobby ada over tls')
  })

  it('serve asio over TLS too', async () => {
    const { port } = await tlsServer({}, 'asio')
    const [a, b] = [await tlsClient(port, {}, 'asio'), await tlsClient(port, {}, 'asio')]
    a.send('hello asio')
    await b.expect('hello asio')
  })

  it('give a plaintext client nothing and close it, and it costs nobody else', async () => {
    const { port } = await tlsServer()
    const a = await tlsClient(port)
    await a.expect(/^WELCOME /)
    const received: Buffer[] = []
    const closed = await new Promise<boolean>((resolve) => {
      const plain = netConnect({ port, host: '127.0.0.1' }, () => plain.write('NICK plain\n'))
      plain.on('data', (chunk) => received.push(chunk))
      plain.on('error', () => {})
      plain.on('close', () => resolve(true))
    })
    expect(closed).toBe(true)
    // A TLS alert may come back, never a line of the protocol.
    expect(Buffer.concat(received).toString('latin1')).not.toMatch(/WELCOME|ERR|MSG/)
    a.send('PING still')
    await a.expect('PONG still')
  })

  it('cut a handshake that stalls after the partial timeout', async () => {
    const { port } = await tlsServer({ partialTimeoutMs: 300 })
    const startedAt = Date.now()
    await new Promise<void>((resolve) => {
      const idle = netConnect({ port, host: '127.0.0.1' })
      idle.on('error', () => {})
      idle.on('close', () => resolve())
    })
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(250)
  })

  it('require a client certificate signed by the CA given, and refuse one without', async () => {
    const { port } = await tlsServer({ tls: { cert: server.cert, key: server.key, ca: ca.ca } })
    const client = ca.issue('ada', 'client')
    const a = await tlsClient(port, { cert: ca.read(client.cert), key: ca.read(client.key) })
    await a.expect(/^WELCOME /)
    // Without one: refused at the handshake, or (TLS 1.3, where the client finishes first) closed before any line.
    const without = await TestClient.connect({ port, tls: { ca: ca.read(ca.ca) } }).catch(() => null)
    if (without) {
      clients.push(without)
      await without.closed()
      expect(without.lines).toEqual([])
    }
  })

  it('secure every connection of a storm handed over one handshake a turn', async () => {
    const { server: s, port } = await tlsServer({ tlsHandshakesPerTurn: 1 })
    const storm = await Promise.all(Array.from({ length: 60 }, () => tlsClient(port)))
    await Promise.all(storm.map((c) => c.expect(/^WELCOME /)))
    expect(s.snapshot().totals.sessions).toBe(60)
  })

  it('hear a reset before the hello or halfway through it, and take a hello that comes in pieces', async () => {
    const { server: s, port } = await tlsServer({ tlsHandshakesPerTurn: 1 })
    const early = netConnect({ port, host: '127.0.0.1' })
    early.on('error', () => {})
    early.once('connect', () => early.resetAndDestroy())
    const halfway = netConnect({ port, host: '127.0.0.1' })
    halfway.on('error', () => {})
    halfway.once('connect', () => halfway.write(Buffer.from([0x16, 0x03, 0x01, 0x02]), () => setTimeout(() => halfway.resetAndDestroy(), 50)))
    // A proxy that passes the client's hello on in two pieces, 100 ms apart.
    const splitter = createNetServer((client) => {
      const upstream = netConnect({ port, host: '127.0.0.1' })
      upstream.pipe(client)
      client.once('data', (hello: Buffer) => {
        upstream.write(hello.subarray(0, 20))
        setTimeout(() => {
          upstream.write(hello.subarray(20))
          client.pipe(upstream)
        }, 100)
      })
    })
    await new Promise<void>((resolve) => splitter.listen(0, '127.0.0.1', resolve))
    try {
      const pieces = await tlsClient((splitter.address() as AddressInfo).port)
      await pieces.expect(/^WELCOME /)
      const after = await tlsClient(port)
      await after.expect(/^WELCOME /)
      expect(s.snapshot().totals.sessions).toBe(2)
    } finally {
      splitter.close()
    }
  })

  it('read the certificate again on reload: new connections get the new one, a session already secured goes on', async () => {
    const { server: s, port } = await tlsServer()
    // The server reads the files it was given: put the first certificate in place, then the next.
    const first = ca.issue('switchboard', 'server')
    const second = ca.issue('switchboard', 'server')
    copyFileSync(first.cert, server.cert)
    copyFileSync(first.key, server.key)
    s.reload()
    expect(await presented(port)).toBe(first.fingerprint)
    const a = await tlsClient(port)
    await a.expect(/^WELCOME /)
    copyFileSync(second.cert, server.cert)
    copyFileSync(second.key, server.key)
    s.reload()
    expect(await presented(port)).toBe(second.fingerprint)
    a.send('PING after reload')
    await a.expect('PONG after reload')
  })

  it('from the CLI: --listen tls+line with --tls-cert/--tls-key, and SIGHUP reads the certificate again', async () => {
    const first = ca.issue('switchboard', 'server')
    const port = await freePort()
    const child = spawn(process.execPath, [CLI, 'serve', '--listen', `tls+line:${port}`, '--tls-cert', first.cert, '--tls-key', first.key, '--status-ms', '0', '--workers', '0'], {
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
    try {
      await waitFor('listening', () => stdout.includes(`listening on 127.0.0.1:${port} (tls+line)`), 10_000)
      expect(await presented(port)).toBe(first.fingerprint)
      const a = await tlsClient(port)
      await a.expect(/^WELCOME /)
      const second = ca.issue('switchboard', 'server')
      copyFileSync(second.cert, first.cert)
      copyFileSync(second.key, first.key)
      child.kill('SIGHUP')
      await waitFor('the reload said', () => stdout.includes('SIGHUP: TLS certificate read again'), 10_000)
      expect(await presented(port)).toBe(second.fingerprint)
      a.send('PING still here')
      await a.expect('PONG still here')
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('take a traffic-lab run over TLS: every message delivered, and the handshakes timed', async () => {
    const { port } = await tlsServer()
    const config = resolveLoadConfig({ targets: [{ host: '127.0.0.1', port }], clients: 12, messages: 20, size: 32, tls: { ca: ca.ca, insecure: false } })
    const report = await runLoad(config, { agentFile: LOAD_AGENT_FILE })
    expect(report).toMatchObject({ complete: true, deliveries: 12 * 12 * 20 })
    expect(report.handshakeMs?.count).toBe(12)
    // Not trusting the server's CA, it connects to nothing.
    const untrusted = await runLoad(resolveLoadConfig({ ...config, tls: { ca: null, insecure: false }, timeoutMs: 5000 }), { agentFile: LOAD_AGENT_FILE })
    expect(untrusted.connectErrors).toBe(12)
  })

  it('refuse to start a TLS listener without a certificate', async () => {
    await expect(startServer({ listeners: [{ codec: 'line', host: '127.0.0.1', port: 0, tls: true }] })).rejects.toThrow(/needs a certificate and key/)
  })
})
