// Crowd benchmark: what a crowd costs the server, and what it costs a newcomer.
//   npm run bench:crowd                  (builds, then runs this with tsx)
//   npx tsx bench/crowd.ts --reps 3      (after `npm run build`)
//   CROWD_ONLY=watched npx tsx bench/crowd.ts --reps 1   (scenario 3 alone, into .bench/crowd-watched.json)
// 1. One room of 10,000 line clients sending one message each: 100 million deliveries. Every client
//    connects before anyone sends; the figures are the connect times and whether the run completes.
// 2. 5,000 idle connections held open by this process, then newcomers one at a time: how long a
//    newcomer waits for WELCOME, and for the echo of its first message (which goes to all 5,001).
//    Asio's chat_server holds the same crowd side by side: its newcomer's first echo is the anchor.
// 3. A watched crowd (issue 17): 10,000 idle line sessions and 3 control-room viewers on the web host.
//    What each viewer is sent, how late the server's event loop runs, and how long a PING from the
//    crowd waits: watching a big server must cost neither the watchers nor the watched much.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket from 'ws'
import { buildAsioProgram, freePort } from '../scripts/asio-reference'
import { getCodec } from '../src/main/core/codec'
import { DEFAULT_SESSION_QUERY, type CodecName, type SessionSort } from '../src/shared/telemetry'
import { encodeCall } from '../src/shared/web-wire'
import { parseBenchArgs } from './args'
import { measure } from './measurement'
import { count, machine, ms, printMachine, ratio, saveJson, table, verdict } from './report'
import { asioChatServer, killServersOnInterrupt, startServer, stopServer, switchboard, whenAccepting } from './servers'
import { exitWith } from './suite'

const ROOM = { clients: 10_000, messages: 1, window: 1, size: 16, agents: 2 }
const IDLE = 5000
const NEWCOMERS = 20
const WATCHED = { sessions: 10_000, viewers: 3, warmUpMs: 5000, windowMs: 15_000, pingEveryMs: 50 }
const TARGETS = { connectP99Ms: 100, welcomeMs: 50, viewerKBps: 200, loopLagP99Ms: 25, pingP99Ms: 50 }

/** One connection's frames, as text, with a way to wait for the next one that matches. */
class Peer {
  private readonly frames: string[] = []
  private waiter: (() => void) | null = null

  private constructor(readonly socket: Socket, codec: CodecName) {
    const decoder = getCodec(codec).createDecoder(
      {
        onFrame: (payload) => {
          this.frames.push(payload.toString('latin1'))
          this.waiter?.()
        },
        onError: () => socket.destroy()
      },
      1 << 20
    )
    socket.on('data', (chunk) => decoder.write(chunk))
    socket.on('error', () => {})
  }

  static open(port: number, codec: CodecName): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' }, () => resolve(new Peer(socket, codec)))
      socket.once('error', reject)
    })
  }

  /** Resolves once a frame matching `test` arrives (earlier frames are dropped), or rejects after 30 s. */
  next(test: (frame: string) => boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer within 30s')), 30_000)
      const check = () => {
        while (this.frames.length > 0) {
          const frame = this.frames.shift()!
          if (!test(frame)) continue
          clearTimeout(timer)
          this.waiter = null
          return resolve(frame)
        }
      }
      this.waiter = check
      check()
    })
  }

  /** Idle peers read and forget: a crowd's own traffic must not pile up in this process. */
  forget(): void {
    this.frames.length = 0
    this.waiter = () => (this.frames.length = 0)
  }
}

/** Says `body` to the room and waits for its echo; returns how long that took, in ms. */
async function roundTrip(peer: Peer, codec: CodecName, body: string): Promise<number> {
  const sentAt = performance.now()
  peer.socket.write(getCodec(codec).encode(codec === 'line' ? `CHAT ${body}` : body))
  await peer.next((frame) => frame.endsWith(body))
  return performance.now() - sentAt
}

/** Times `PING token` from a peer of an idle crowd, which then goes back to forgetting what it is sent. */
async function ping(peer: Peer, token: string): Promise<number> {
  const sentAt = performance.now()
  peer.socket.write(getCodec('line').encode(`PING ${token}`))
  try {
    await peer.next((frame) => frame === `PONG ${token}`)
    return performance.now() - sentAt
  } finally {
    peer.forget()
  }
}

interface Newcomers {
  welcomeMs: number[]
  firstEchoMs: number[]
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

/** Holds IDLE connections open on a fresh server, then times NEWCOMERS one after another. */
async function idleCrowd(command: (port: number) => [string, string[]], codec: CodecName): Promise<Newcomers> {
  const port = await freePort()
  const server = startServer(...command(port))
  const crowd: Peer[] = []
  try {
    await whenAccepting(server, port)
    for (let opened = 0; opened < IDLE; opened += 100) {
      crowd.push(...(await Promise.all(Array.from({ length: Math.min(100, IDLE - opened) }, () => Peer.open(port, codec)))))
    }
    // Connections are accepted in order, so once the last one has been served the whole crowd is in:
    // newcomers are timed against a crowd that is held, not one still being admitted.
    for (const peer of crowd.slice(0, -1)) peer.forget()
    await roundTrip(crowd.at(-1)!, codec, 'crowd-in')
    crowd.at(-1)!.forget()
    const result: Newcomers = { welcomeMs: [], firstEchoMs: [] }
    for (let i = 0; i < NEWCOMERS; i++) {
      const startedAt = performance.now()
      const peer = await Peer.open(port, codec)
      // Asio greets nobody: its newcomer's first sign of life is the echo of what it says.
      if (codec === 'line') {
        await peer.next((frame) => frame.startsWith('WELCOME '))
        result.welcomeMs.push(performance.now() - startedAt)
      }
      result.firstEchoMs.push(await roundTrip(peer, codec, `newcomer-${i}`))
      peer.socket.destroy()
    }
    return result
  } finally {
    for (const peer of crowd) peer.socket.destroy()
    await stopServer(server)
  }
}

/** A control-room viewer that only listens: what the web host sends it, counted as it comes. */
interface Viewer {
  socket: WebSocket
  bytes: number
  snapshots: number
  /** The server's event-loop lag p99 (ms) of each snapshot it was sent. */
  lags: number[]
}

const METRICS_EVENT = Buffer.from('{"event":"onMetrics",')
const LAG_KEY = Buffer.from('"eventLoopLagP99Ms":')

/** Opens /ws as the page does: with the cookie its URL's token set, from the page's origin; asks for a page of sessions sorted by `sort`. */
function watch(webPort: number, cookie: string, sort: SessionSort): Promise<Viewer> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${webPort}/ws`, { origin: `http://127.0.0.1:${webPort}`, headers: { cookie } })
    const viewer: Viewer = { socket, bytes: 0, snapshots: 0, lags: [] }
    socket.on('message', (data) => {
      const frame = data as Buffer
      viewer.bytes += frame.length
      // A snapshot lists every session (megabytes with this crowd): JSON.parse would stall this process,
      // and the PINGs it times with it. The one figure wanted is read in place.
      if (!frame.subarray(0, METRICS_EVENT.length).equals(METRICS_EVENT)) return
      viewer.snapshots++
      const at = frame.indexOf(LAG_KEY)
      if (at !== -1) viewer.lags.push(parseFloat(frame.toString('latin1', at + LAG_KEY.length, at + LAG_KEY.length + 32)))
    })
    socket.once('open', () => {
      // As the sessions table does when it mounts: the first 100 rows, in this viewer's own order.
      socket.send(encodeCall(1, 'setSessionQuery', [{ ...DEFAULT_SESSION_QUERY, sort }]))
      resolve(viewer)
    })
    socket.once('error', reject)
  })
}

interface Watched {
  /** Per viewer, over the window. */
  viewerKBps: number[]
  snapshotsPerSec: number[]
  /** The server's event-loop lag p99 of each snapshot in the window, as the first viewer was sent them. */
  loopLagMs: number[]
  pingMs: number[]
  pingsLost: number
  /** This process's own event-loop lag p99 over the window: the PING round trips include it. */
  benchLagP99Ms: number
}

/** Holds an idle crowd on a server with a control room, watches it from WATCHED.viewers viewers, and PINGs from the crowd. */
async function watchedCrowd(): Promise<Watched> {
  const port = await freePort()
  const webPort = await freePort()
  const token = randomBytes(18).toString('base64url')
  const dir = mkdtempSync(join(tmpdir(), 'crowd-'))
  const tokenFile = join(dir, 'token')
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 })
  const extra = ['--web', String(webPort), '--token-file', tokenFile, '--max-sessions', String(WATCHED.sessions + 100)]
  const server = startServer(...switchboard('line', extra)(port))
  const crowd: Peer[] = []
  const viewers: Viewer[] = []
  try {
    await whenAccepting(server, port)
    await whenAccepting(server, webPort)
    for (let opened = 0; opened < WATCHED.sessions; opened += 100) {
      const batch = await Promise.all(Array.from({ length: Math.min(100, WATCHED.sessions - opened) }, () => Peer.open(port, 'line')))
      for (const peer of batch) peer.forget()
      crowd.push(...batch)
    }
    // Accepted in order: once the last is served, the whole crowd is in.
    await ping(crowd.at(-1)!, 'crowd-in')
    const page = await fetch(`http://127.0.0.1:${webPort}/?token=${token}`)
    await page.arrayBuffer()
    const cookie = page.headers.get('set-cookie')?.split(';')[0]
    if (!cookie) throw new Error(`the control room's page set no cookie (HTTP ${page.status})`)
    // Each viewer its own order, so the server computes a page per viewer: the most it can be asked.
    const sorts: SessionSort[] = ['pending', 'rate', 'idle']
    viewers.push(...(await Promise.all(Array.from({ length: WATCHED.viewers }, (_, i) => watch(webPort, cookie, sorts[i % sorts.length])))))
    // The warm-up lets the viewers' first snapshots and the server's settle before anything counts.
    await sleep(WATCHED.warmUpMs)

    const tally = () => viewers.map((v) => ({ bytes: v.bytes, snapshots: v.snapshots, lags: v.lags.length }))
    const before = tally()
    const benchLag = monitorEventLoopDelay({ resolution: 10 })
    benchLag.enable()
    const startedAt = performance.now()
    // Open loop: a slow answer does not delay the next PING, so a stall is seen by every PING it holds up.
    const pings: Promise<number>[] = []
    const waiting = new Set<Peer>()
    const timer = setInterval(() => {
      const peer = crowd[Math.floor(Math.random() * crowd.length)]
      // A peer waits for one answer at a time (next() has one waiter): one already waiting sits this one out.
      if (waiting.has(peer)) return
      waiting.add(peer)
      pings.push(ping(peer, `watched-${pings.length}`).finally(() => waiting.delete(peer)))
    }, WATCHED.pingEveryMs)
    await sleep(WATCHED.windowMs)
    clearInterval(timer)
    const seconds = (performance.now() - startedAt) / 1000
    benchLag.disable()
    const after = tally()
    const settled = await Promise.allSettled(pings)
    return {
      viewerKBps: after.map((end, i) => (end.bytes - before[i].bytes) / 1000 / seconds),
      snapshotsPerSec: after.map((end, i) => (end.snapshots - before[i].snapshots) / seconds),
      // Every viewer is sent the same snapshots (but those skipped for its backlog): one viewer's are the server's.
      loopLagMs: viewers[0].lags.slice(before[0].lags, after[0].lags),
      pingMs: settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])),
      pingsLost: settled.filter((result) => result.status === 'rejected').length,
      // As the server reports its own: less the 10 ms resolution.
      benchLagP99Ms: Math.max(0, benchLag.percentile(99) / 1e6 - 10)
    }
  } finally {
    for (const viewer of viewers) viewer.socket.terminate()
    for (const peer of crowd) peer.socket.destroy()
    await stopServer(server)
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main(): Promise<number> {
  // Scenario 3 alone, to re-run it quickly; its results go to their own file, not over a whole run's.
  const only = process.env.CROWD_ONLY
  if (only !== undefined && only !== 'watched') {
    console.error(`bench: CROWD_ONLY takes "watched" (scenario 3 alone), not "${only}"`)
    return 2
  }
  const onlyWatched = only === 'watched'
  const args = parseBenchArgs('bench/crowd.ts', onlyWatched ? 'crowd-watched.json' : 'crowd.json')
  killServersOnInterrupt()
  let asioServer = ''
  try {
    if (!onlyWatched) asioServer = await buildAsioProgram('chat_server')
  } catch (error) {
    console.error(`bench: ${(error as Error).message}`)
    return 1
  }
  const info = machine()
  printMachine('Switchboard crowd benchmark', info, args.reps)

  const rooms = []
  const idle: Record<'switchboard' | 'asio', Newcomers[]> = { switchboard: [], asio: [] }
  const watched: Watched[] = []
  for (let round = 0; round < args.reps; round++) {
    process.stdout.write(`  round ${round + 1}/${args.reps}: ${count.format(WATCHED.sessions)} idle, ${WATCHED.viewers} viewers `)
    const w = await watchedCrowd()
    watched.push(w)
    console.log(`viewer max ${count.format(Math.max(...w.viewerKBps))} KB/s, loop lag p99 ${ms(percentile(w.loopLagMs, 99))} ms, PING p99 ${ms(percentile(w.pingMs, 99))} ms`)
    if (onlyWatched) continue
    process.stdout.write(`  round ${round + 1}/${args.reps}: one room of ${count.format(ROOM.clients)} `)
    const result = await measure({ id: 'room', label: 'room', codec: 'line', load: ROOM, command: switchboard('line') }, args.timeoutMs)
    const r = result.report
    console.log(r ? `${r.complete ? 'complete' : 'INCOMPLETE'}, connect p99 ${ms(r.connectMs.p99)} ms, ${count.format(r.deliveriesPerSec)} deliv/s` : `FAILED: ${result.error}`)
    rooms.push(result)
    // Alternate which server holds its crowd first, as the other benches alternate their runs.
    const order = round % 2 === 0 ? (['switchboard', 'asio'] as const) : (['asio', 'switchboard'] as const)
    for (const which of order) {
      process.stdout.write(`  round ${round + 1}/${args.reps}: ${count.format(IDLE)} idle, ${which} `)
      const newcomers = which === 'asio' ? await idleCrowd(asioChatServer(asioServer), 'asio') : await idleCrowd(switchboard('line'), 'line')
      idle[which].push(newcomers)
      console.log(`first echo p50 ${ms(percentile(newcomers.firstEchoMs, 50))} ms`)
    }
  }

  const reports = rooms.flatMap((result) => (result.report ? [result.report] : []))
  const worst = (f: (values: number[]) => number, pick: (n: Newcomers) => number[]) => f(idle.switchboard.flatMap(pick))
  const connectP99 = Math.max(...reports.map((r) => r.connectMs.p99))
  const allComplete = reports.length === args.reps && reports.every((r) => r.complete)
  const welcomeP50 = worst((v) => percentile(v, 50), (n) => n.welcomeMs)
  const welcomeMax = worst((v) => Math.max(...v), (n) => n.welcomeMs)
  const echo = (which: 'switchboard' | 'asio', p: number) => percentile(idle[which].flatMap((n) => n.firstEchoMs), p)
  if (!onlyWatched) console.log(`
Scenario 1: one room, ${count.format(ROOM.clients)} line clients x ${ROOM.messages} message x ${ROOM.size} B (${count.format(ROOM.clients * ROOM.clients)} deliveries), ${ROOM.agents} agents
${table(
  ['run', 'complete', 'connect p50 ms', 'connect p99 ms', 'connect p99.9 ms', 'deliv/s', 'seconds'],
  reports.map((r, i) => [
    String(i + 1),
    r.complete ? 'yes' : `NO (${r.note ?? `${r.deliveries}/${r.expected}`})`,
    ms(r.connectMs.p50),
    ms(r.connectMs.p99),
    ms(r.connectMs.p999),
    count.format(r.deliveriesPerSec),
    (r.durationMs / 1000).toFixed(1)
  ])
)}
${verdict('worst connect p99, ms', connectP99, `< ${TARGETS.connectP99Ms}, all complete`, connectP99 < TARGETS.connectP99Ms && allComplete)}

Scenario 2: ${count.format(IDLE)} idle connections held, then ${NEWCOMERS} newcomers a round, one at a time
${table(
  ['server', 'WELCOME p50 ms', 'WELCOME max ms', 'first echo p50 ms', 'first echo p99 ms'],
  [
    ['switchboard line', ms(welcomeP50), ms(welcomeMax), ms(echo('switchboard', 50)), ms(echo('switchboard', 99))],
    ['Asio chat_server', '-', '-', ms(echo('asio', 50)), ms(echo('asio', 99))]
  ]
)}
${verdict('WELCOME max, ms', welcomeMax, `< ${TARGETS.welcomeMs}`, welcomeMax < TARGETS.welcomeMs)}
  first echo p50, switchboard / Asio: ${ratio(echo('switchboard', 50) / echo('asio', 50))} (lower is better; every echo goes to all ${count.format(IDLE + 1)})`)

  // Worst viewer of any run; lags and PINGs pooled over the runs.
  const viewerKBps = Math.max(...watched.flatMap((w) => w.viewerKBps))
  const lags = watched.flatMap((w) => w.loopLagMs)
  const pings = watched.flatMap((w) => w.pingMs)
  const pingsLost = watched.reduce((total, w) => total + w.pingsLost, 0)
  const each = (values: number[], format: (value: number) => string) => values.map(format).join(' / ')
  console.log(`
Scenario 3: ${count.format(WATCHED.sessions)} idle line sessions, ${WATCHED.viewers} control-room viewers, a PING from the crowd every ${WATCHED.pingEveryMs} ms; ${WATCHED.windowMs / 1000} s after ${WATCHED.warmUpMs / 1000} s of warm-up
${table(
  ['run', 'KB/s each viewer', 'onMetrics/s each', 'loop lag p99 ms', 'loop lag max ms', 'PING p50 ms', 'PING p99 ms', 'PINGs', 'bench lag p99 ms'],
  watched.map((w, i) => [
    String(i + 1),
    each(w.viewerKBps, (value) => count.format(value)),
    each(w.snapshotsPerSec, (value) => value.toFixed(1)),
    ms(percentile(w.loopLagMs, 99)),
    ms(percentile(w.loopLagMs, 100)),
    ms(percentile(w.pingMs, 50)),
    ms(percentile(w.pingMs, 99)),
    `${w.pingMs.length}${w.pingsLost > 0 ? ` (${w.pingsLost} lost)` : ''}`,
    ms(w.benchLagP99Ms)
  ])
)}
${verdict('worst viewer, KB/s', viewerKBps, `<= ${TARGETS.viewerKBps}`, viewerKBps <= TARGETS.viewerKBps)}
${verdict('server loop lag p99, ms', percentile(lags, 99), `<= ${TARGETS.loopLagP99Ms}`, percentile(lags, 99) <= TARGETS.loopLagP99Ms)}
${verdict('PING p99, ms', percentile(pings, 99), `<= ${TARGETS.pingP99Ms}, none lost`, percentile(pings, 99) <= TARGETS.pingP99Ms && pingsLost === 0)}
  loop lag: the p99 each snapshot reports, p99 over the window's. bench lag: this process's own, which the PINGs include.`)

  saveJson(args.json, { machine: info, reps: args.reps, targets: TARGETS, room: rooms, idle, watched })
  return onlyWatched || reports.length === args.reps ? 0 : 1
}

exitWith(main)
