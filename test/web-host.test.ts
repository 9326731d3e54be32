import { readFileSync } from 'node:fs'
import { get, type IncomingHttpHeaders } from 'node:http'
import { connect, createServer, type AddressInfo } from 'node:net'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { SwitchboardHost } from '../src/main/host/host'
import { connectLocal } from '../src/main/host/local-transport'
import type { Reach } from '../src/main/host/reach'
import { startWebHost, type WebHost, type WebHostOptions } from '../src/main/web/web-host'
import { DEFAULT_LIMITS, type ServerLimits } from '../src/shared/contract'
import { LOAD_DEFAULTS } from '../src/shared/load'
import { LOAD_AGENT_FILE, TestClient, waitFor, WORKER_FILE } from './helpers'

const TOKEN = 'test-token-123'
let host: SwitchboardHost | undefined
/** The web host's cookie is named for its port, so two hosts on one machine keep theirs apart. */
const cookie = () => `switchboard_token_${web!.port}`
let web: WebHost | undefined

afterEach(async () => {
  await web?.close()
  await host?.dispose()
  web = host = undefined
})

async function setup(options: { reach?: Reach; limits?: Partial<ServerLimits>; web?: Partial<WebHostOptions> } = {}) {
  host = new SwitchboardHost({
    workerFile: WORKER_FILE,
    loadAgentFile: LOAD_AGENT_FILE,
    config: { listeners: [{ codec: 'line', host: '127.0.0.1', port: 0 }], workers: 0, workUs: 0, cluster: null, limits: { ...DEFAULT_LIMITS, ...options.limits } },
    reach: options.reach
  })
  web = await startWebHost({ host, rendererDir: resolve('out/renderer'), port: 0, token: TOKEN, ...options.web })
  return `http://127.0.0.1:${web.port}`
}

/** A WebSocket that keeps every message from the first, since the host speaks as soon as it accepts. */
type Viewer = { ws: WebSocket; next(predicate: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>; closed(): string | null }
function openSocket(base: string, headers: Record<string, string>): Promise<Viewer> {
  return new Promise((resolvePromise, reject) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`, { headers })
    const received: Record<string, unknown>[] = []
    const waiting: (() => void)[] = []
    let closedWith: string | null = null
    ws.on('message', (data) => {
      received.push(JSON.parse(String(data)))
      waiting.splice(0).forEach((wake) => wake())
    })
    ws.on('close', (code, reason) => {
      closedWith = `${code} ${String(reason)}`
      waiting.splice(0).forEach((wake) => wake())
    })
    const next = async (predicate: (m: Record<string, unknown>) => boolean) => {
      for (;;) {
        const index = received.findIndex(predicate)
        if (index >= 0) return received.splice(index, 1)[0]
        // Nothing more can come: say so rather than wait for the test's timeout.
        if (closedWith !== null) throw new Error(`the socket closed (${closedWith}) before the message awaited`)
        await new Promise<void>((wake) => waiting.push(wake))
      }
    }
    ws.once('open', () => resolvePromise({ ws, next, closed: () => closedWith }))
    ws.once('error', reject)
  })
}

/** A GET whose body stays as sent (fetch would decode it) and whose Accept-Encoding is ours to set. */
function rawGet(url: string, headers: Record<string, string>): Promise<{ headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolvePromise, reject) => {
    get(url, { headers }, (response) => {
      const parts: Buffer[] = []
      response.on('data', (part: Buffer) => parts.push(part))
      response.on('end', () => resolvePromise({ headers: response.headers, body: Buffer.concat(parts) }))
    }).on('error', reject)
  })
}

const UPGRADE_HEADERS = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'

/** Sends a request as raw bytes (for targets fetch would never send) and resolves with the response's status line. */
function rawStatusLine(port: number, request: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const raw = connect(port, '127.0.0.1', () => raw.write(request))
    let received = ''
    raw.on('data', (chunk) => {
      received += chunk
      if (!received.includes('\r\n')) return
      resolvePromise(received.slice(0, received.indexOf('\r\n')))
      raw.destroy()
    })
    raw.on('error', reject)
    raw.on('close', () => reject(new Error(`closed without a status line; got ${JSON.stringify(received)}`)))
  })
}

describe('browser mode: the web host', () => {
  it('prints a loopback URL that carries the token', async () => {
    await setup()
    expect(web!.url).toBe(`http://127.0.0.1:${web!.port}/?token=${TOKEN}`)
  })

  it('refuses anything without the token', async () => {
    const base = await setup()
    expect((await fetch(`${base}/`)).status).toBe(403)
    expect((await fetch(`${base}/?token=wrong`)).status).toBe(403)
    expect((await fetch(`${base}/index.html`, { headers: { cookie: `${cookie()}=nope` } })).status).toBe(403)
    await expect(openSocket(base, { origin: base })).rejects.toThrow(/403/)
  })

  it('serves the renderer with the token and sets it as a strict cookie for what follows', async () => {
    const base = await setup()
    const page = await fetch(`${base}/?token=${TOKEN}`)
    expect(page.status).toBe(200)
    expect(page.headers.get('set-cookie')).toBe(`${cookie()}=${TOKEN}; HttpOnly; SameSite=Strict; Path=/`)
    const html = await page.text()
    const script = /src="\.?\/?(assets\/[^"]+\.js)"/.exec(html)![1]
    const asset = await fetch(`${base}/${script}`, { headers: { cookie: `${cookie()}=${TOKEN}` } })
    expect(asset.status).toBe(200)
    expect(asset.headers.get('content-type')).toMatch(/javascript/)
    const escape = await fetch(`${base}/..%2f..%2fpackage.json`, { headers: { cookie: `${cookie()}=${TOKEN}` } })
    expect(escape.status).toBe(404)
  })

  it('serves text compressed when the browser takes it (brotli, else gzip), and as it is otherwise', async () => {
    const base = await setup()
    const html = readFileSync(resolve('out/renderer/index.html'))
    const script = /src="\.?\/?(assets\/[^"]+\.js)"/.exec(html.toString())![1]
    const original = readFileSync(resolve('out/renderer', script))
    for (const [accept, encoding, decode] of [
      ['gzip, deflate, br', 'br', brotliDecompressSync],
      ['gzip', 'gzip', gunzipSync],
      ['identity', null, (body: Buffer) => body]
    ] as const) {
      const response = await rawGet(`${base}/${script}`, { cookie: `${cookie()}=${TOKEN}`, 'accept-encoding': accept })
      expect(response.headers['content-encoding'] ?? null, accept).toBe(encoding)
      expect(response.headers.vary).toBe('Accept-Encoding')
      expect(decode(response.body).equals(original), accept).toBe(true)
      if (encoding) expect(response.body.length).toBeLessThan(original.length / 2)
    }
  })

  it('answers a malformed percent-escape in the path with 400, and goes on serving', async () => {
    const base = await setup()
    const withCookie = { headers: { cookie: `${cookie()}=${TOKEN}` } }
    for (const path of ['/%E0%A4%A', '/%zz', '/assets/%']) {
      const response = await fetch(`${base}${path}`, withCookie)
      expect(response.status, path).toBe(400)
    }
    expect((await fetch(`${base}/`, withCookie)).status).toBe(200)
  })

  it('answers a request target that is no URL with 400, over HTTP and WebSocket alike, and goes on serving', async () => {
    const base = await setup()
    const request = `GET http://[ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie()}=${TOKEN}\r\n`
    expect(await rawStatusLine(web!.port, `${request}Connection: close\r\n\r\n`)).toBe('HTTP/1.1 400 Bad Request')
    expect(await rawStatusLine(web!.port, `${request}Origin: ${base}\r\n${UPGRADE_HEADERS}\r\n`)).toBe('HTTP/1.1 400 Bad Request')
    expect((await fetch(`${base}/?token=${TOKEN}`)).status).toBe(200)
  })

  it('refuses a wrong token of another length without failing, including multibyte text', async () => {
    const base = await setup()
    expect((await fetch(`${base}/?token=${encodeURIComponent('é'.repeat(7))}`)).status).toBe(403)
  })

  it('survives a refused WebSocket whose peer resets the connection', async () => {
    const base = await setup()
    const raw = connect(web!.port, '127.0.0.1')
    await new Promise((done) => raw.once('connect', done))
    raw.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n${UPGRADE_HEADERS}\r\n`)
    raw.resetAndDestroy()
    // On loopback the reset is with the host before this request is even sent: by its answer, the host has met the reset.
    expect((await fetch(`${base}/?token=${TOKEN}`)).status).toBe(200)
  })

  it('refuses a WebSocket from another origin even with the cookie', async () => {
    const base = await setup()
    await expect(openSocket(base, { cookie: `${cookie()}=${TOKEN}`, origin: 'http://evil.example' })).rejects.toThrow(/403/)
  })

  it('carries calls and events over the WebSocket, with validation', async () => {
    const base = await setup()
    const { ws, next } = await openSocket(base, { cookie: `${cookie()}=${TOKEN}`, origin: base })
    expect(((await next((m) => m.event === 'onServerState')).payload as { status: string }).status).toBe('stopped')
    ws.send(JSON.stringify({ id: 1, call: 'startServer', args: [host!.serverState.config] }))
    const reply = await next((m) => m.id === 1)
    expect((reply.result as { status: string }).status).toBe('running')
    await next((m) => m.event === 'onMetrics')
    ws.send(JSON.stringify({ id: 2, call: 'kickSession', args: [-1] }))
    expect((await next((m) => m.id === 2)).error).toMatch(/sessionId: expected a whole number/)
    ws.send(JSON.stringify({ id: 3, call: 'noSuchCall', args: [] }))
    expect((await next((m) => m.id === 3)).error).toMatch(/unknown call "noSuchCall"/)
    ws.send(JSON.stringify({ id: 4, call: 'kickSession', args: [1, 'no such node!'] }))
    expect((await next((m) => m.id === 4)).error).toMatch(/node: expected 1 to 32 of/)
    // JSON turns a trailing undefined into null: that is a kick on this server, here of nobody.
    ws.send(JSON.stringify({ id: 5, call: 'kickSession', args: [424242, null] }))
    expect(await next((m) => m.id === 5)).toMatchObject({ result: false })
  })

  it('refuses a malformed call on its own: earlier calls still get their replies and the socket stays open', async () => {
    const base = await setup()
    const { ws, next } = await openSocket(base, { cookie: `${cookie()}=${TOKEN}`, origin: base })
    // Starting the server takes a few turns of I/O, so its reply is still pending when the bad calls arrive.
    ws.send(JSON.stringify({ id: 1, call: 'startServer', args: [host!.serverState.config] }))
    ws.send(JSON.stringify({ id: 2 ** 60, call: 'getServerState', args: [] }))
    ws.send(JSON.stringify({ id: 2, call: 'getServerState', args: 'not a list' }))
    ws.send('not json')
    expect(((await next((m) => m.id === 1)).result as { status: string }).status).toBe('running')
    // An id that is not a safe integer cannot be echoed faithfully: the refusal is addressed to no call.
    expect((await next((m) => m.id === null)).error).toMatch(/malformed call: id must be a safe integer/)
    expect((await next((m) => m.id === 2)).error).toMatch(/malformed call: args must be a list/)
    expect((await next((m) => m.id === null)).error).toMatch(/malformed call: not JSON/)
    ws.send(JSON.stringify({ id: 3, call: 'getServerState', args: [] }))
    expect(((await next((m) => m.id === 3)).result as { status: string }).status).toBe('running')
    expect(ws.readyState).toBe(WebSocket.OPEN)
  })
})

/** A plain TCP server that only counts who connects: a stand-in for anything else on this machine. */
async function bystander(): Promise<{ port: number; connections(): number; close(): void }> {
  let connections = 0
  const server = createServer((socket) => {
    connections++
    socket.destroy()
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  return { port: (server.address() as AddressInfo).port, connections: () => connections, close: () => server.close() }
}

describe('browser mode: what the page may not decide', () => {
  const call = async (viewer: Viewer, id: number, name: string, args: unknown[]) => {
    viewer.ws.send(JSON.stringify({ id, call: name, args }))
    return viewer.next((m) => m.id === id)
  }
  const viewerOf = async (options: Parameters<typeof setup>[0] = {}) => {
    const base = await setup(options)
    return openSocket(base, { cookie: `${cookie()}=${TOKEN}`, origin: base })
  }

  it('starts no listener beyond loopback unless the process allows it, nor a cluster on a Redis the process did not name', async () => {
    const viewer = await viewerOf()
    const config = host!.serverState.config
    const beyondLoopback = /beyond loopback: only the process may allow that \(switchboard serve --allow-remote\)/
    for (const [id, remote, refusal] of [
      [1, { ...config, listeners: [{ codec: 'line', host: '0.0.0.0', port: 0 }] }, beyondLoopback],
      [2, { ...config, listeners: [config.listeners[0], { codec: 'asio', host: '::', port: 0 }] }, beyondLoopback],
      // Any Redis but the one the process was started with: the host would dial it with the page's keys.
      [3, { ...config, cluster: { redis: 'redis://127.0.0.1:3306', nodeId: 'n1' } }, /only the process names it \(switchboard serve --cluster URL\)/]
    ] as const) {
      const reply = await call(viewer, id, 'startServer', [remote])
      expect(reply.error).toMatch(refusal)
    }
    expect(host!.serverState.status).toBe('stopped')
  })

  it('connects a client only to this server or to a target the operator allowed; nothing else is even dialed', async () => {
    const other = await bystander()
    const allowed = await bystander()
    try {
      const viewer = await viewerOf({ reach: { allowRemote: false, targets: [{ host: '127.0.0.1', port: allowed.port }], redis: null } })
      const refused = await call(viewer, 1, 'connectClient', [{ host: '127.0.0.1', port: other.port, codec: 'line' }])
      expect(refused.error).toMatch(new RegExp(`127\\.0\\.0\\.1:${other.port} is not one of this server's listeners \\(none while it is stopped\\); other targets need switchboard serve --allow-target`))
      const run = await call(viewer, 2, 'startLoad', [{ ...LOAD_DEFAULTS, targets: [{ host: 'localhost', port: other.port }] }])
      expect(run.error).toMatch(/is not one of this server's listeners/)
      const remote = await call(viewer, 3, 'startLoad', [{ ...LOAD_DEFAULTS, targets: [{ host: '127.0.0.1', port: allowed.port }], allowRemote: true }])
      expect(remote.error).toMatch(/a run that allows remote targets: only the process may allow that/)
      expect(other.connections()).toBe(0)

      const started = await call(viewer, 4, 'startServer', [host!.serverState.config])
      const port = (started.result as { bound: { port: number }[] }).bound[0].port
      expect(await call(viewer, 5, 'connectClient', [{ host: '127.0.0.1', port, codec: 'line' }])).toMatchObject({ result: { status: 'connected' } })
      expect(await call(viewer, 6, 'connectClient', [{ host: '127.0.0.1', port: allowed.port, codec: 'line' }])).toHaveProperty('result')
      await waitFor('the allowed target dialed', () => allowed.connections() === 1)
      expect(other.connections()).toBe(0)
    } finally {
      other.close()
      allowed.close()
    }
  })

  it('takes at most 32 control-room WebSockets, and refuses the next with a reason it can show', async () => {
    const base = await setup()
    const headers = { cookie: `${cookie()}=${TOKEN}`, origin: base }
    const viewers = await Promise.all(Array.from({ length: 32 }, () => openSocket(base, headers)))
    const extra = await openSocket(base, headers)
    await expect(extra.next(() => false)).rejects.toThrow(/closed \(1013 too many control-room connections: at most 32 at once\)/)
    viewers[0].ws.close()
    await waitFor('a place freed', () => viewers[0].closed() !== null)
    const again = await openSocket(base, headers)
    expect(((await again.next((m) => m.event === 'onServerState')).payload as { status: string }).status).toBe('stopped')
    for (const viewer of [...viewers, again]) viewer.ws.close()
  })

  it('cuts off a viewer that stops reading once its backlog passes the bound, and lets its client go', async () => {
    const viewer = await viewerOf({ limits: { maxRate: 0 }, web: { maxViewerBacklogBytes: 256 << 10 } })
    const started = await call(viewer, 1, 'startServer', [host!.serverState.config])
    const port = (started.result as { bound: { port: number }[] }).bound[0].port
    expect(await call(viewer, 2, 'connectClient', [{ host: '127.0.0.1', port, codec: 'line' }])).toMatchObject({ result: { status: 'connected' } })
    const talker = await TestClient.connect({ port })
    await talker.expect(/^JOINED lobby /)
    // The server's own count of sessions: the viewer's client and the talker, until the viewer is cut off.
    const { api, close } = connectLocal(host!)
    let sessions = 2
    api.onMetrics((snapshot) => (sessions = snapshot.totals.sessions))
    viewer.ws.pause()
    // Every line reaches the stalled viewer's client, and so the viewer: more than the socket buffers can hold.
    const line = `CHAT ${'x'.repeat(2000)}`
    for (let sent = 0; sent < 40_000 && sessions === 2; sent += 500) {
      for (let i = 0; i < 500; i++) talker.send(line)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await waitFor('the stalled viewer cut off and its client let go', () => sessions === 1)
    close()
    await talker.close()
  }, 60_000)
})
