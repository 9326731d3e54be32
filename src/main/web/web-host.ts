import { randomBytes, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { extname, join, normalize, sep } from 'node:path'
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib'
import { WebSocketServer, type WebSocket } from 'ws'
import { PrometheusMetrics } from '../core/metrics/prometheus'
import type { EventName } from '../../shared/contract'
import type { SwitchboardHost } from '../host/host'
import { decodeCall, encodeEvent, encodeReply, type ReplyMessage } from '../../shared/web-wire'

export interface WebHostOptions {
  host: SwitchboardHost
  /** The built renderer (out/renderer). */
  rendererDir: string
  port: number
  bindHost?: string
  /** Fixed for tests; random otherwise. */
  token?: string
  /** A viewer with this much unsent is closed: it stopped reading, and the host must not hold its backlog (default 8 MiB). */
  maxViewerBacklogBytes?: number
}

export interface WebHost {
  /** Open this to use the control room; it carries the access token. */
  url: string
  port: number
  close(): Promise<void>
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json'
}
/** Control-room WebSockets at once: each holds a host peer, a chat client and its share of every broadcast. */
const MAX_VIEWERS = 32
const MAX_VIEWER_BACKLOG_BYTES = 8 << 20
/** 1013, Try Again Later (RFC 6455 registry): the refusal is about load, not about the viewer. */
const CLOSE_TRY_AGAIN_LATER = 1013
/** Events the next of their kind replaces whole, so a viewer behind may miss one. */
const SUPERSEDED = new Set<EventName>(['onMetrics', 'onSessions'])

/** Text is sent compressed where the browser takes it: the renderer's script is a quarter of its size in brotli. */
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json'])
type Encoding = 'br' | 'gzip'

/** The best encoding the request accepts (brotli, else gzip), or null for the body as it is. */
function acceptedEncoding(request: IncomingMessage): Encoding | null {
  const accepted = new Set(
    String(request.headers['accept-encoding'] ?? '')
      .split(',')
      .map((token) => token.trim().split(';'))
      .filter(([, q]) => q === undefined || !/^\s*q=0(\.0*)?\s*$/.test(q))
      .map(([name]) => name.trim().toLowerCase())
  )
  return accepted.has('br') ? 'br' : accepted.has('gzip') ? 'gzip' : null
}

const compress: Record<Encoding, (body: Buffer) => Buffer> = {
  br: (body) => brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 9 } }),
  gzip: (body) => gzipSync(body)
}

function sameToken(given: string | undefined, token: string): boolean {
  if (!given) return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** The request's URL, or null when its target does not parse (such as `http://[`): the request's fault, not ours. */
function requestUrl(request: IncomingMessage): URL | null {
  try {
    return new URL(request.url ?? '/', 'http://switchboard')
  } catch {
    return null
  }
}

/** The path with its percent-escapes decoded, or null when they do not decode: the request's fault, not ours. */
function decodedPath(pathname: string): string | null {
  try {
    return decodeURIComponent(pathname)
  } catch {
    return null
  }
}

/** Cookies are not scoped by port: each web host names its own, so two on one machine do not clash. */
const cookieName = (port: number) => `switchboard_token_${port}`

function cookieToken(request: IncomingMessage, port: number): string | undefined {
  const match = new RegExp(`(?:^|;\\s*)${cookieName(port)}=([A-Za-z0-9_-]+)`).exec(request.headers.cookie ?? '')
  return match?.[1]
}

/**
 * Browser mode: serves the built renderer over HTTP and carries the contract over a WebSocket.
 * Anything without the access token is refused: the URL's token becomes a SameSite=Strict cookie,
 * which every later request (assets, the WebSocket) must carry.
 */
export async function startWebHost(options: WebHostOptions): Promise<WebHost> {
  const token = options.token ?? randomBytes(18).toString('base64url')
  const bindHost = options.bindHost ?? '127.0.0.1'
  const maxBacklog = options.maxViewerBacklogBytes ?? MAX_VIEWER_BACKLOG_BYTES
  const sockets = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 })
  /** The bound port (options.port may be 0); set once listening, before any request is served. */
  let port = options.port
  /** Each file compressed once, and again only if its bytes changed (a rebuild while the host runs). */
  const compressedFiles = new Map<string, { source: Buffer } & Partial<Record<Encoding, Buffer>>>()
  function encoded(file: string, body: Buffer, encoding: Encoding): Buffer {
    let entry = compressedFiles.get(file)
    if (!entry || !entry.source.equals(body)) compressedFiles.set(file, (entry = { source: body }))
    return (entry[encoding] ??= compress[encoding](body))
  }

  const prometheus = new PrometheusMetrics(() => options.host.counters())
  const http = createServer((request, response) => {
    const served = requestUrl(request)?.pathname === '/metrics' ? serveMetrics(request, response) : serveStatic(request, response)
    served.catch(() => {
      if (!response.headersSent) response.writeHead(500).end('internal error')
    })
  })

  /** GET /metrics for Prometheus: the access token as a bearer token (a scraper keeps no cookie). */
  async function serveMetrics(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1]
    if (!sameToken(bearer, token)) {
      response.writeHead(401, { 'WWW-Authenticate': 'Bearer realm="switchboard"', 'Content-Type': 'text/plain' }).end('unauthorized: send the access token as Authorization: Bearer <token>\n')
      return
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD' }).end()
      return
    }
    const body = Buffer.from(await prometheus.text())
    response.writeHead(200, { 'Content-Type': prometheus.contentType, 'Content-Length': String(body.length), 'Cache-Control': 'no-store' })
    response.end(request.method === 'HEAD' ? undefined : body)
  }

  async function serveStatic(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = requestUrl(request)
    if (!url) {
      response.writeHead(400, { 'Content-Type': 'text/plain' }).end('bad request: the request target is not a URL\n')
      return
    }
    const fromQuery = url.searchParams.get('token') ?? undefined
    const headers: Record<string, string> = {}
    if (sameToken(fromQuery, token)) {
      headers['Set-Cookie'] = `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`
    } else if (!sameToken(cookieToken(request, port), token)) {
      response.writeHead(403, { 'Content-Type': 'text/plain' }).end('forbidden: open the URL printed by switchboard, with its token\n')
      return
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405).end()
      return
    }
    const path = decodedPath(url.pathname)
    if (path === null) {
      response.writeHead(400, { 'Content-Type': 'text/plain' }).end('bad request: malformed percent-escape in the path\n')
      return
    }
    const relative = normalize(path).replace(/^([/\\])+/, '') || 'index.html'
    const file = join(options.rendererDir, relative)
    if (!file.startsWith(options.rendererDir + sep)) {
      response.writeHead(404).end()
      return
    }
    let body: Buffer
    try {
      body = await readFile(file)
    } catch {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n')
      return
    }
    const compressible = COMPRESSIBLE.has(extname(file))
    const encoding = compressible ? acceptedEncoding(request) : null
    const sent = encoding ? encoded(file, body, encoding) : body
    response.writeHead(200, {
      ...headers,
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': String(sent.length),
      ...(compressible ? { Vary: 'Accept-Encoding' } : {}),
      ...(encoding ? { 'Content-Encoding': encoding } : {}),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff'
    })
    response.end(request.method === 'HEAD' ? undefined : sent)
  }

  http.on('upgrade', (request, socket, head) => {
    // Node drops its own error handler from an upgraded socket: a peer's reset must not crash the host.
    socket.on('error', () => socket.destroy())
    const url = requestUrl(request)
    if (!url) {
      // Thrown here, in an event listener, the parse error would take the whole host down.
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n')
      return
    }
    const origins = [`http://${bindHost}:${port}`, `http://localhost:${port}`]
    if (url.pathname !== '/ws' || !sameToken(cookieToken(request, port), token) || !origins.includes(request.headers.origin ?? '')) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n')
      return
    }
    sockets.handleUpgrade(request, socket, head, (ws) => {
      // Counted once accepted, so the refusal travels as a close frame the page can show.
      if (sockets.clients.size > MAX_VIEWERS) ws.close(CLOSE_TRY_AGAIN_LATER, `too many control-room connections: at most ${MAX_VIEWERS} at once`)
      else attach(ws)
    })
  })

  /**
   * The host sends one snapshot, and one page per distinct query, to every viewer as the same object: it is
   * encoded for the first and the text reused for the others.
   */
  const eventTexts = new WeakMap<object, { event: EventName; text: string }>()
  function encodeOnce(event: EventName, payload: unknown): string {
    if (typeof payload !== 'object' || payload === null) return encodeEvent(event, payload)
    const known = eventTexts.get(payload)
    if (known?.event === event) return known.text
    const text = encodeEvent(event, payload)
    eventTexts.set(payload, { event, text })
    return text
  }

  function attach(ws: WebSocket): void {
    const peer = options.host.attach({
      send: (event, payload) => {
        if (ws.readyState !== ws.OPEN) return
        // A viewer that stopped reading cannot be told so: it is cut off, and what waited for it freed.
        if (ws.bufferedAmount > maxBacklog) return void ws.terminate()
        // Snapshots and pages are skipped at half of that: the next ones supersede them.
        if (SUPERSEDED.has(event) && ws.bufferedAmount > maxBacklog / 2) return
        ws.send(encodeOnce(event, payload))
      }
    })
    const reply = (message: ReplyMessage) => ws.readyState === ws.OPEN && ws.send(encodeReply(message))
    ws.on('message', (data) => {
      const decoded = decodeCall(String(data))
      // Refuse the bad message alone: closing the socket would drop the replies to calls still running.
      if (!decoded.ok) {
        reply(decoded.refusal)
        return
      }
      const { id, call, args } = decoded.call
      peer.invoke(call, args).then(
        (result) => reply({ id, result }),
        (error: Error) => reply({ id, error: error.message })
      )
    })
    ws.on('close', () => options.host.detach(peer))
    ws.on('error', () => ws.terminate())
  }

  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject)
      http.listen(options.port, bindHost, () => resolve())
    })
  } catch (error) {
    prometheus.close()
    throw error
  }
  port = (http.address() as { port: number }).port
  return {
    url: `http://${bindHost}:${port}/?token=${token}`,
    port,
    close: async () => {
      prometheus.close()
      for (const ws of sockets.clients) ws.close(1001, 'host shutting down')
      sockets.close()
      http.closeAllConnections()
      await new Promise((resolve) => http.close(resolve))
    }
  }
}
