// TLS benchmark: what TLS costs our server, side by side with plaintext in one run.
//   npm run bench:tls                  (builds, then runs this with tsx)
//   npx tsx bench/tls.ts --reps 5      (after `npm run build`)
// 1. Broadcast: the broadcast bench's scenario 1 (200 clients in one room x 40 messages x 64 B, window 8)
//    against `tls+line` and against `line`, back to back in each round on fresh servers: the median of the
//    rounds' deliveries/s ratios, TLS over plaintext, at least 0.7.
// 2. Handshakes: 1,000 new connections, 64 at a time, each until its WELCOME, against `tls+line` and `line`
//    (fresh servers): connections/s of each, and the TLS handshake's own time (p50, p99).
// 3. A handshake storm against sessions already connected, with an RSA-4096 certificate (its signature costs
//    the server milliseconds, its check costs a client little: the storm an attacker would pick). 20 TLS
//    sessions each keep one PING in flight while a process of its own (bench/handshake-storm.ts) opens 1,000
//    TCP connections, then sends every one's TLS hello at once while the server is held (SIGSTOP, 300 ms, as
//    a long GC pause or a busy spell would): they are all there when it goes on. The sessions' round trips and
//    the server's event-loop lag (its status lines) during the storm, with handshakes started 4 per turn (the
//    default) and all at once (--tls-handshakes-per-turn 0), fresh servers, alternated over the rounds.
// Certificates are made for the run by openssl (an EC P-256 server certificate signed by a CA of its own).
import { spawn } from 'node:child_process'
import { connect as netConnect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { fileURLToPath } from 'node:url'
import { freePort } from '../scripts/asio-reference'
import { DEFAULTS } from '../src/main/core/server/options'
import { TestCa } from '../scripts/tls-certs'
import { parseBenchArgs } from './args'
import { pairedRounds, type Measurement, type Workload } from './measurement'
import { count, describe, machine, median, ms, pairedTable, printMachine, saveJson, table } from './report'
import { killServersOnInterrupt, startServer, stopServer, switchboard, whenAccepting, type Server } from './servers'
import { exitWith } from './suite'

const BROADCAST: Workload = { clients: 200, messages: 40, size: 64, window: 8 }
const TARGET_SHARE = 0.7
const HANDSHAKES = 1000
const AT_ONCE = 64

/** Opens `total` connections, `AT_ONCE` at a time, each until the server's WELCOME: connections/s, and TLS handshake times. */
async function connectStorm(port: number, ca: Buffer | null): Promise<{ perSec: number; handshakeMs: number[] }> {
  const handshakeMs: number[] = []
  const sockets: { destroy(): void }[] = []
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const startedAt = performance.now()
      const socket = ca ? tlsConnect({ port, host: '127.0.0.1', ca }) : netConnect({ port, host: '127.0.0.1' })
      sockets.push(socket)
      let tcpAt = startedAt
      socket.once('connect', () => (tcpAt = performance.now()))
      if (ca) socket.once('secureConnect', () => handshakeMs.push(performance.now() - tcpAt))
      socket.once('data', () => resolve())
      socket.once('error', reject)
    })
  const startedAt = performance.now()
  for (let opened = 0; opened < HANDSHAKES; opened += AT_ONCE) await Promise.all(Array.from({ length: Math.min(AT_ONCE, HANDSHAKES - opened) }, one))
  const seconds = (performance.now() - startedAt) / 1000
  for (const socket of sockets) socket.destroy()
  return { perSec: HANDSHAKES / seconds, handshakeMs }
}

const STORM_SCRIPT = fileURLToPath(new URL('./handshake-storm.ts', import.meta.url))
const WATCHERS = 20
const HELD_MS = 300
const STORM = 1000

/** The server's event-loop lag (p99 and max, ms) from each of its status lines. */
const STATUS_LAG = /lag p99 ([0-9.]+)ms max ([0-9.]+)ms/

/**
 * PING round trips (ms) of WATCHERS established TLS sessions, each with one PING in flight, while a storm
 * process opens STORM TLS connections at once; the server's event-loop lag meanwhile (its status lines: how
 * long a turn of its I/O thread took, the wait every session's read shares); and how long the handshakes took,
 * hellos to last WELCOME.
 */
async function pingsDuringStorm(server: Server, port: number, ca: Buffer): Promise<{ rtts: number[]; lagP99: number[]; lagMax: number; stormMs: number }> {
  const rtts: number[] = []
  const lagP99: number[] = []
  let lagMax = 0
  const readLag = (chunk: Buffer) => {
    for (const [, p99, max] of String(chunk).matchAll(new RegExp(STATUS_LAG, 'g'))) {
      if (!recording) continue
      lagP99.push(Number(p99))
      lagMax = Math.max(lagMax, Number(max))
    }
  }
  server.child.stdout!.on('data', readLag)
  let recording = false
  let stopped = false
  const watchers = await Promise.all(
    Array.from(
      { length: WATCHERS },
      () =>
        new Promise<{ destroy(): void }>((resolve, reject) => {
          const socket = tlsConnect({ port, host: '127.0.0.1', ca })
          let buffered = ''
          let sentAt = 0
          const ping = () => {
            if (stopped) return
            sentAt = performance.now()
            socket.write('PING w\n')
          }
          socket.on('data', (chunk: Buffer) => {
            buffered += chunk.toString('latin1')
            for (let end = buffered.indexOf('\n'); end !== -1; end = buffered.indexOf('\n')) {
              const line = buffered.slice(0, end)
              buffered = buffered.slice(end + 1)
              if (line.startsWith('WELCOME')) {
                resolve(socket)
                ping()
              } else if (line === 'PONG w') {
                if (recording) rtts.push(performance.now() - sentAt)
                ping()
              }
            }
          })
          socket.once('error', reject)
        })
    )
  )
  const storm = spawn(process.execPath, ['--import', 'tsx', STORM_SCRIPT, String(port), String(STORM)], { stdio: ['pipe', 'pipe', 'inherit'] })
  let printed = ''
  storm.stdout.on('data', (chunk) => (printed += String(chunk)))
  const exited = new Promise((resolve) => storm.once('exit', resolve))
  while (!printed.includes('connected') && storm.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 20))
  printed = ''
  recording = true
  server.child.kill('SIGSTOP')
  storm.stdin.write('go\n')
  await new Promise((resolve) => setTimeout(resolve, HELD_MS))
  server.child.kill('SIGCONT')
  const code = await exited
  recording = false
  server.child.stdout!.off('data', readLag)
  if (code !== 0) throw new Error(`the handshake storm failed (exit ${String(code)})`)
  const stormMs = Number(printed.trim())
  stopped = true
  for (const watcher of watchers) watcher.destroy()
  return { rtts, lagP99, lagMax, stormMs }
}

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))]

async function main(): Promise<number> {
  const args = parseBenchArgs('bench/tls.ts', 'tls.json')
  killServersOnInterrupt()
  const info = machine()
  printMachine('Switchboard TLS benchmark', info, args.reps)
  const certs = TestCa.create()
  try {
    const issued = certs.issue('switchboard', 'server')
    const tlsFlags = ['--tls-cert', issued.cert, '--tls-key', issued.key]
    const plain: Measurement = { id: 'plain', label: 'line', codec: 'line', load: BROADCAST, command: switchboard('line') }
    // The generator trusts whatever the server presents: the certificate is the run's own.
    const overTls: Measurement = {
      id: 'tls',
      label: 'tls+line',
      codec: 'line',
      load: { ...BROADCAST, tls: { ca: certs.ca, insecure: false } },
      command: switchboard('tls+line', tlsFlags)
    }
    const { a: plainRates, b: tlsRates, ratios: pairs, notes } = await pairedRounds(plain, overTls, args.reps, args.timeoutMs)
    const rates = { plain: plainRates, tls: tlsRates }
    const share = median(pairs)

    const storms: Record<'plain' | 'tls', { perSec: number; handshakeMs: number[] }> = {} as never
    for (const id of ['plain', 'tls'] as const) {
      const port = await freePort()
      const server = startServer(...(id === 'tls' ? switchboard('tls+line', tlsFlags) : switchboard('line'))(port))
      try {
        await whenAccepting(server, port)
        storms[id] = await connectStorm(port, id === 'tls' ? certs.read(certs.ca) : null)
      } finally {
        await stopServer(server)
      }
      console.log(`  ${HANDSHAKES} connections, ${id}: ${count.format(storms[id].perSec)}/s`)
    }
    const hs = storms.tls.handshakeMs

    // Scenario 3, the two settings alternated over the rounds on fresh servers, their round trips pooled.
    const metering = { metered: DEFAULTS.tlsHandshakesPerTurn, unmetered: 0 }
    const rsa = certs.issue('switchboard-rsa', 'server', 'rsa4096')
    const rsaFlags = ['--tls-cert', rsa.cert, '--tls-key', rsa.key]
    type During = { rtts: number[]; lagP99: number[]; lagMax: number[]; stormMs: number[] }
    const during: Record<keyof typeof metering, During> = {
      metered: { rtts: [], lagP99: [], lagMax: [], stormMs: [] },
      unmetered: { rtts: [], lagP99: [], lagMax: [], stormMs: [] }
    }
    for (let round = 0; round < args.reps; round++) {
      for (const id of ['metered', 'unmetered'] as const) {
        const port = await freePort()
        const server = startServer(...switchboard('tls+line', [...rsaFlags, '--max-rate', '0', '--status-ms', '1000', '--tls-handshakes-per-turn', String(metering[id])])(port))
        try {
          await whenAccepting(server, port)
          const { rtts, lagP99, lagMax, stormMs } = await pingsDuringStorm(server, port, certs.read(certs.ca))
          during[id].rtts.push(...rtts)
          during[id].lagP99.push(...lagP99)
          during[id].lagMax.push(lagMax)
          during[id].stormMs.push(stormMs)
          console.log(`  storm, ${id}: round trips p99 ${ms(percentile(rtts, 99))} ms, server lag max ${ms(lagMax)} ms, handshakes ${ms(stormMs)} ms`)
        } finally {
          await stopServer(server)
        }
      }
    }
    const rttRow = (id: keyof typeof metering, label: string) => {
      const { rtts, lagP99, lagMax, stormMs } = during[id]
      return [label, ms(percentile(rtts, 50)), ms(percentile(rtts, 99)), ms(median(lagP99)), ms(median(lagMax)), ms(median(stormMs))]
    }
    console.log(`
Scenario 1: broadcast over TLS, ${describe(BROADCAST)}
${pairedTable('listener', [{ label: 'line', rates: rates.plain }, { label: 'tls+line', rates: rates.tls }], 'TLS / plaintext deliveries/s', pairs, TARGET_SHARE)}

Scenario 2: ${HANDSHAKES} new connections, ${AT_ONCE} at a time, each until its WELCOME (EC P-256 certificate)
${table(
  ['listener', 'connections/s', 'handshake p50 ms', 'handshake p99 ms'],
  [
    ['line', count.format(storms.plain.perSec), '-', '-'],
    ['tls+line', count.format(storms.tls.perSec), ms(percentile(hs, 50)), ms(percentile(hs, 99))]
  ]
)}
  TLS connections/s over plaintext: ${(storms.tls.perSec / storms.plain.perSec).toFixed(2)} (client and server handshakes share the cores)

Scenario 3: ${WATCHERS} connected TLS sessions' PING round trips while ${STORM.toLocaleString('en-US')} TLS hellos arrive at once (RSA-4096 certificate;
            the server held ${HELD_MS} ms while they arrive, counted in the round trips and the handshakes' time)
${table(
  ['handshakes started', 'PING p50 ms', 'PING p99 ms', 'server lag p99 ms', 'server lag max ms', 'handshakes ms'],
  [rttRow('metered', `${metering.metered} per turn`), rttRow('unmetered', 'all at once')]
)}
  server lag: the median of its per-second p99s during the storms, and the median of each storm's worst turn
${notes.length > 0 ? `\nnotes:\n${notes.map((note) => `  ${note}`).join('\n')}` : ''}`)
    saveJson(args.json, { machine: info, reps: args.reps, rates, pairs, share, connections: { plain: storms.plain.perSec, tls: storms.tls.perSec }, handshakeMs: hs, duringStorm: during })
    return pairs.length > 0 ? 0 : 1
  } finally {
    certs.remove()
  }
}

exitWith(main)
