// Crowd benchmark: what a crowd costs the server, and what it costs a newcomer.
//   npm run bench:crowd                  (builds, then runs this with tsx)
//   npx tsx bench/crowd.ts --reps 3      (after `npm run build`)
// 1. One room of 10,000 line clients sending one message each: 100 million deliveries. Every client
//    connects before anyone sends; the figures are the connect times and whether the run completes.
// 2. 5,000 idle connections held open by this process, then newcomers one at a time: how long a
//    newcomer waits for WELCOME, and for the echo of its first message (which goes to all 5,001).
//    Asio's chat_server holds the same crowd side by side: its newcomer's first echo is the anchor.
import { connect, type Socket } from 'node:net'
import { buildAsioProgram, freePort } from '../scripts/asio-reference'
import { getCodec } from '../src/main/core/codec'
import type { CodecName } from '../src/shared/telemetry'
import { parseBenchArgs } from './args'
import { measure } from './measurement'
import { count, machine, ms, printMachine, ratio, saveJson, table, verdict } from './report'
import { asioChatServer, killServersOnInterrupt, startServer, stopServer, switchboard, whenAccepting } from './servers'
import { exitWith } from './suite'

const ROOM = { clients: 10_000, messages: 1, window: 1, size: 16, agents: 2 }
const IDLE = 5000
const NEWCOMERS = 20
const TARGETS = { connectP99Ms: 100, welcomeMs: 50 }

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

interface Newcomers {
  welcomeMs: number[]
  firstEchoMs: number[]
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
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

async function main(): Promise<number> {
  const args = parseBenchArgs('bench/crowd.ts', 'crowd.json')
  killServersOnInterrupt()
  let asioServer: string
  try {
    asioServer = await buildAsioProgram('chat_server')
  } catch (error) {
    console.error(`bench: ${(error as Error).message}`)
    return 1
  }
  const info = machine()
  printMachine('Switchboard crowd benchmark', info, args.reps)

  const rooms = []
  const idle: Record<'switchboard' | 'asio', Newcomers[]> = { switchboard: [], asio: [] }
  for (let round = 0; round < args.reps; round++) {
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
  console.log(`
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

  saveJson(args.json, { machine: info, reps: args.reps, targets: TARGETS, room: rooms, idle })
  return reports.length === args.reps ? 0 : 1
}

exitWith(main)
