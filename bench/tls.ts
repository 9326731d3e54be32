// TLS benchmark: what TLS costs our server, side by side with plaintext in one run.
//   npm run bench:tls                  (builds, then runs this with tsx)
//   npx tsx bench/tls.ts --reps 5      (after `npm run build`)
// 1. Broadcast: the broadcast bench's scenario 1 (200 clients in one room x 40 messages x 64 B, window 8)
//    against `tls+line` and against `line`, back to back in each round on fresh servers: the median of the
//    rounds' deliveries/s ratios, TLS over plaintext, at least 0.7.
// 2. Handshakes: 1,000 new connections, 64 at a time, each until its WELCOME, against `tls+line` and `line`
//    (fresh servers): connections/s of each, and the TLS handshake's own time (p50, p99).
// Certificates are made for the run by openssl (an EC P-256 server certificate signed by a CA of its own).
import { connect as netConnect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { freePort } from '../scripts/asio-reference'
import { TestCa } from '../scripts/tls-certs'
import { parseBenchArgs } from './args'
import { pairedRounds, type Measurement, type Workload } from './measurement'
import { count, describe, machine, median, ms, printMachine, saveJson, table, verdict } from './report'
import { killServersOnInterrupt, startServer, stopServer, switchboard, whenAccepting } from './servers'
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
    console.log(`
Scenario 1: broadcast over TLS, ${describe(BROADCAST)}
${table(
  ['listener', 'runs', 'median deliv/s'],
  [
    ['line', String(rates.plain.length), count.format(median(rates.plain))],
    ['tls+line', String(rates.tls.length), count.format(median(rates.tls))]
  ]
)}
${verdict('TLS / plaintext deliveries/s', share, `>= ${TARGET_SHARE}`, share >= TARGET_SHARE)}
  (the median of each round's ratio, the two run back to back: ${pairs.map((pair) => pair.toFixed(2)).join(', ')})

Scenario 2: ${HANDSHAKES} new connections, ${AT_ONCE} at a time, each until its WELCOME (EC P-256 certificate)
${table(
  ['listener', 'connections/s', 'handshake p50 ms', 'handshake p99 ms'],
  [
    ['line', count.format(storms.plain.perSec), '-', '-'],
    ['tls+line', count.format(storms.tls.perSec), ms(percentile(hs, 50)), ms(percentile(hs, 99))]
  ]
)}
  TLS connections/s over plaintext: ${(storms.tls.perSec / storms.plain.perSec).toFixed(2)} (client and server handshakes share the cores)
${notes.length > 0 ? `\nnotes:\n${notes.map((note) => `  ${note}`).join('\n')}` : ''}`)
    saveJson(args.json, { machine: info, reps: args.reps, rates, pairs, share, connections: { plain: storms.plain.perSec, tls: storms.tls.perSec }, handshakeMs: hs })
    return pairs.length > 0 ? 0 : 1
  } finally {
    certs.remove()
  }
}

exitWith(main)
