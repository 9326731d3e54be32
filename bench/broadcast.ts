// Broadcast benchmark: Switchboard against Asio's own chat_server example, side by side in one run.
//   npm run bench                       (builds, then runs this with tsx)
//   npx tsx bench/broadcast.ts --reps 5 (after `npm run build`)
// Every measurement gets a fresh server on a free loopback port and a fresh load agent process
// (out/main/load-agent.js); rounds are interleaved so drift in the machine hurts every server alike.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { availableParallelism, cpus, release, totalmem } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { buildAsioProgram, freePort } from '../scripts/asio-reference'
import type { LoadOptions, LoadReport } from '../src/main/core/load/types'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const BENCH_DIR = join(ROOT, '.bench')
const CLI = join(ROOT, 'out/main/cli.js')
const AGENT = join(ROOT, 'out/main/load-agent.js')
/** Asio's chat_server, built at bench time (scripts/asio-reference.ts), never committed. */
let asioServer = ''

const TARGETS = { asioSpeedup: 3, lineVsAsio: 0.8, poolSpeedup: 1.5 }

// ---------------------------------------------------------------- arguments

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    'timeout-ms': { type: 'string', default: '120000' },
    json: { type: 'string', default: join(BENCH_DIR, 'latest.json') }
  }
})
const REPS = Number(args.reps)
const TIMEOUT_MS = Number(args['timeout-ms'])
if (!Number.isInteger(REPS) || REPS < 1 || !Number.isInteger(TIMEOUT_MS) || TIMEOUT_MS < 1) {
  console.error('usage: tsx bench/broadcast.ts [--reps N] [--timeout-ms MS] [--json FILE]')
  process.exit(2)
}

// ---------------------------------------------------------------- a quiet machine

/**
 * The server and the agent share two cores: anything else running (a test suite, a build) takes
 * from them and skews the figures, and a busy core at start-up also skews --work-us, which the
 * server calibrates against the clock. So each run waits for the machine to be idle, and counts
 * the CPU that neither the server nor the agent used while it ran ("background", in cores).
 */
const TICKS_PER_SEC = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()
const QUIET_CORES = 0.1
const BACKGROUND_WARN_CORES = 0.15

/** Busy CPU time of the whole machine, in ticks (Linux /proc/stat; null elsewhere). */
function machineBusyTicks(): number | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number)
    // Steal counts too: time the hypervisor gave to someone else is time this run did not get.
    const [user, nice, system, , , irq, softirq, steal] = fields
    return user + nice + system + irq + softirq + (steal || 0)
  } catch {
    return null
  }
}

/** CPU time of one process (all its threads), in ticks. */
function processTicks(pid: number | undefined): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12]) // utime, stime
  } catch {
    return null
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits (up to 60s) until other processes use less than QUIET_CORES; returns what they used last. */
async function waitForQuiet(): Promise<number> {
  const deadline = Date.now() + 60_000
  let warned = false
  for (;;) {
    const before = machineBusyTicks()
    const startedAt = performance.now()
    await sleep(400)
    const after = machineBusyTicks()
    if (before === null || after === null) return 0
    const cores = (after - before) / TICKS_PER_SEC / ((performance.now() - startedAt) / 1000)
    if (cores < QUIET_CORES || Date.now() > deadline) return cores
    if (!warned) process.stdout.write(`(machine busy: ${cores.toFixed(2)} cores in use, waiting) `)
    warned = true
  }
}

// ---------------------------------------------------------------- servers and the agent

interface Server {
  child: ChildProcess
  output: string
}

/** Servers and agents running now: an interrupted bench must not leave them behind. */
const children = new Set<ChildProcess>()

function track(child: ChildProcess): ChildProcess {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of children) child.kill('SIGKILL')
    process.exit(130)
  })
}

function startServer(command: string, argv: string[]): Server {
  const child = track(spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] }))
  const server: Server = { child, output: '' }
  const keep = (chunk: Buffer) => {
    server.output = (server.output + chunk.toString('utf8')).slice(-4000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  return server
}

/** Resolves once the server accepts a connection on 127.0.0.1:port. */
async function whenAccepting(server: Server, port: number): Promise<void> {
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`server exited before accepting:\n${server.output}`)
    }
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port })
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (accepted) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`server did not accept on 127.0.0.1:${port} within 15s:\n${server.output}`)
}

async function stopServer(server: Server): Promise<void> {
  const { child } = server
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

function runAgent(options: Partial<LoadOptions> & Pick<LoadOptions, 'port'>): Promise<LoadReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AGENT, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] })
    track(child)
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
    child.once('error', reject)
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`load agent exited with ${code}: ${stderr.trim()}`))
      try {
        resolve(JSON.parse(stdout) as LoadReport)
      } catch {
        reject(new Error(`load agent printed no report: ${stdout.slice(0, 200)} ${stderr.trim()}`))
      }
    })
  })
}

// ---------------------------------------------------------------- what is measured

type Load = Omit<LoadOptions, 'host' | 'port' | 'codec' | 'timeoutMs'>

interface Measurement {
  id: string
  label: string
  codec: LoadOptions['codec']
  load: Load
  /** The server's simulated work per message (--work-us), if any. */
  workUs?: number
  /** The server's command for a given port. */
  command(port: number): [string, string[]]
}

const BROADCAST: Load = { clients: 200, messages: 40, size: 64, window: 8 }
const WORK: Load = { clients: 20, messages: 200, size: 64, window: 8 }
const WORK_US = 200

function switchboard(listen: string, extra: string[]): (port: number) => [string, string[]] {
  return (port) => [process.execPath, [CLI, 'serve', '--listen', `${listen}:${port}`, '--status-ms', '0', ...extra]]
}

const MEASUREMENTS: Measurement[] = [
  { id: 'a', label: '(a) Asio chat_server', codec: 'asio', load: BROADCAST, command: (port) => [asioServer, [String(port)]] },
  { id: 'b', label: '(b) switchboard asio', codec: 'asio', load: BROADCAST, command: switchboard('asio', []) },
  { id: 'c', label: '(c) switchboard line', codec: 'line', load: BROADCAST, command: switchboard('line', []) },
  ...[2, 0].map((workers) => ({
    id: `w${workers}`,
    label: `switchboard line --workers ${workers}`,
    codec: 'line' as const,
    load: WORK,
    workUs: WORK_US,
    command: switchboard('line', ['--work-us', String(WORK_US), '--workers', String(workers)])
  }))
]

interface Result {
  report?: LoadReport
  error?: string
  /** CPU used by anything but this run's server and agent while it ran, in cores (Linux only). */
  background?: number
  /** The server's CPU time per message sent (each one fanned out to every client), in microseconds. */
  serverUsPerMsg?: number
  /** What the server said about its logic threads ("logic on 2 worker threads"). */
  logic?: string
}

async function measure(m: Measurement): Promise<Result> {
  await waitForQuiet()
  const port = await freePort()
  const [command, argv] = m.command(port)
  const server = startServer(command, argv)
  try {
    await whenAccepting(server, port)
    const machineBefore = machineBusyTicks()
    const serverBefore = processTicks(server.child.pid)
    const startedAt = performance.now()
    const report = await runAgent({ host: '127.0.0.1', port, codec: m.codec, timeoutMs: TIMEOUT_MS, ...m.load })
    const wallMs = performance.now() - startedAt
    const machineAfter = machineBusyTicks()
    const serverAfter = processTicks(server.child.pid)
    let background: number | undefined
    let serverUsPerMsg: number | undefined
    if (machineBefore !== null && machineAfter !== null && serverBefore !== null && serverAfter !== null) {
      const serverMs = ((serverAfter - serverBefore) / TICKS_PER_SEC) * 1000
      const otherMs = ((machineAfter - machineBefore) / TICKS_PER_SEC) * 1000 - serverMs - report.cpu.processMs
      background = Math.max(0, otherMs / wallMs)
      serverUsPerMsg = (serverMs * 1000) / (m.load.clients * m.load.messages)
    }
    const logic = /logic on ([^,\n]+)/.exec(server.output)?.[1]
    return { report, logic, background, serverUsPerMsg }
  } catch (error) {
    return { error: (error as Error).message }
  } finally {
    await stopServer(server)
  }
}

/**
 * Why a run's figure cannot be trusted, if it cannot: other processes took CPU while it ran, or the
 * server did less work per message than --work-us asks for, because it calibrated its spin loop
 * against the clock while something else held the core.
 */
function suspect(m: Measurement, result: Result): string | null {
  if ((result.background ?? 0) > BACKGROUND_WARN_CORES) return `background ${result.background!.toFixed(2)} cores`
  if (m.workUs && result.serverUsPerMsg !== undefined && result.serverUsPerMsg < m.workUs * 0.9) {
    return `server used ${Math.round(result.serverUsPerMsg)}us of CPU a message for --work-us ${m.workUs}`
  }
  return null
}

// ---------------------------------------------------------------- reporting

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

interface Summary {
  id: string
  label: string
  logic?: string
  runs: number
  incomplete: number
  errors: string[]
  deliveriesPerSec: number
  messagesPerSec: number
  p50: number
  p99: number
  agentCpu: number
  serverUsPerMsg: number
  /** The most CPU other processes took during any of its runs, in cores. */
  background: number
  /** Runs kept although still suspect after their redos (see suspect()). */
  suspects: string[]
  all: number[]
}

function summarise(m: Measurement, results: Result[]): Summary {
  const reports = results.flatMap((result) => (result.report ? [result.report] : []))
  const pick = (f: (r: LoadReport) => number) => (reports.length > 0 ? median(reports.map(f)) : NaN)
  return {
    id: m.id,
    label: m.label,
    logic: results.find((result) => result.logic)?.logic,
    runs: reports.length,
    incomplete: reports.filter((r) => !r.complete).length,
    errors: [
      ...results.flatMap((result) => (result.error ? [result.error] : [])),
      ...reports.flatMap((r) => (r.complete ? [] : [`incomplete: ${r.deliveries}/${r.expected} deliveries, ${r.note ?? ''}`])),
      ...reports.flatMap((r) => (r.protocolErrors === 0 ? [] : [`${r.protocolErrors} frames untagged or out of their sender's order`]))
    ],
    deliveriesPerSec: pick((r) => r.deliveriesPerSec),
    messagesPerSec: pick((r) => r.messagesPerSec),
    p50: pick((r) => r.latencyMs.p50),
    p99: pick((r) => r.latencyMs.p99),
    agentCpu: pick((r) => r.cpu.share),
    serverUsPerMsg: median(results.flatMap((result) => (result.serverUsPerMsg === undefined ? [] : [result.serverUsPerMsg]))),
    background: Math.max(0, ...results.map((result) => result.background ?? 0)),
    suspects: results.flatMap((result) => suspect(m, result) ?? []),
    all: reports.map((r) => r.deliveriesPerSec)
  }
}

const count = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })
const ms = (value: number) => (Number.isNaN(value) ? '-' : value < 10 ? value.toFixed(2) : value.toFixed(1))

function row(s: Summary): string {
  const label = s.logic ? `${s.label} (${s.logic})` : s.label
  const flag = (s.incomplete > 0 || s.errors.length > 0 ? ' !' : '') + (s.suspects.length > 0 ? ' ~' : '')
  return [
    label.padEnd(48),
    count.format(s.deliveriesPerSec).padStart(12),
    count.format(s.messagesPerSec).padStart(9),
    ms(s.p50).padStart(9),
    ms(s.p99).padStart(9),
    `${Math.round(s.agentCpu * 100)}%`.padStart(6),
    (Number.isNaN(s.serverUsPerMsg) ? '-' : count.format(s.serverUsPerMsg)).padStart(8),
    s.background.toFixed(2).padStart(5),
    `  ${s.all.map((v) => count.format(v)).join(' / ')}${flag}`
  ].join(' ')
}

const HEADER = [
  'server'.padEnd(48),
  'deliv/s'.padStart(12),
  'msg/s'.padStart(9),
  'p50 ms'.padStart(9),
  'p99 ms'.padStart(9),
  'agent'.padStart(6),
  'srv us'.padStart(8),
  'bg'.padStart(5),
  '  deliv/s of each run'
].join(' ')

function verdict(name: string, ratio: number, target: string, pass: boolean): string {
  const shown = Number.isNaN(ratio) ? '-' : ratio.toFixed(2)
  return `  ${name.padEnd(28)} ${shown.padStart(6)}   target ${target.padEnd(22)} ${pass ? 'PASS' : 'MISS'}`
}

function describe(load: Load): string {
  const deliveries = count.format(load.clients * load.clients * load.messages)
  return `${load.clients} clients x ${load.messages} messages x ${load.size} B, window ${load.window} (${deliveries} deliveries a run)`
}

function machine(): Record<string, string> {
  const versionHeader = readFileSync('/usr/include/asio/version.hpp', 'utf8')
  const asioVersion = /ASIO_VERSION\s+\d+\s*\/\/\s*([\d.]+)/.exec(versionHeader)?.[1] ?? '?'
  let gcc = '?'
  try {
    gcc = execFileSync('g++', ['-dumpfullversion'], { encoding: 'utf8' }).trim()
  } catch {}
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: `${availableParallelism()} (shared by server and load agent)`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    kernel: `${process.platform} ${release()}`,
    node: process.version,
    asio: `${asioVersion} (g++ ${gcc} -O2)`,
    date: new Date().toISOString()
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  for (const file of [CLI, AGENT]) {
    if (!existsSync(file)) {
      console.error(`bench: ${file} is missing; build first (npm run build), or run npm run bench`)
      return 1
    }
  }
  try {
    asioServer = await buildAsioProgram('chat_server')
  } catch (error) {
    console.error(`bench: ${(error as Error).message}`)
    return 1
  }
  const info = machine()
  console.log('Switchboard broadcast benchmark')
  for (const [key, value] of Object.entries(info)) console.log(`  ${key.padEnd(7)} ${value}`)
  console.log(`  method  loopback; fresh server per run; load agent in its own process; ${REPS} interleaved rounds, medians\n`)

  const results = new Map<string, Result[]>(MEASUREMENTS.map((m) => [m.id, []]))
  for (let round = 0; round < REPS; round++) {
    // Each round starts one further along, so no server always runs first (or last) in a round.
    for (let k = 0; k < MEASUREMENTS.length; k++) {
      const m = MEASUREMENTS[(round + k) % MEASUREMENTS.length]
      process.stdout.write(`  round ${round + 1}/${REPS}: ${m.label.padEnd(30)} `)
      let result = await measure(m)
      // A run that other processes cut into measures them, not the server: do it again (twice at most).
      for (let redo = 0; redo < 2 && suspect(m, result); redo++) {
        process.stdout.write(`(${suspect(m, result)}: redone) `)
        result = await measure(m)
      }
      results.get(m.id)!.push(result)
      const r = result.report
      if (!r) {
        console.log(`FAILED: ${result.error}`)
        continue
      }
      const bg = (result.background ?? 0).toFixed(2)
      const incomplete = r.complete ? '' : `  INCOMPLETE: ${r.note}`
      console.log(`${count.format(r.deliveriesPerSec).padStart(10)} deliv/s  p99 ${ms(r.latencyMs.p99).padStart(6)} ms  bg ${bg}${incomplete}`)
    }
  }

  const s = Object.fromEntries(MEASUREMENTS.map((m) => [m.id, summarise(m, results.get(m.id)!)]))
  const speedup = s.b.deliveriesPerSec / s.a.deliveriesPerSec
  const lineVsAsio = s.c.deliveriesPerSec / s.b.deliveriesPerSec
  const pool = s.w2.deliveriesPerSec / s.w0.deliveriesPerSec
  const b = BROADCAST
  const w = WORK
  console.log(`
Scenario 1: broadcast, ${describe(b)}
${HEADER}
${row(s.a)}
${row(s.b)}
${row(s.c)}
${verdict('(b)/(a) deliveries/s', speedup, `>= ${TARGETS.asioSpeedup}`, speedup >= TARGETS.asioSpeedup)}
${verdict('(c)/(b) deliveries/s', lineVsAsio, `>= ${TARGETS.lineVsAsio} (within 20%)`, lineVsAsio >= TARGETS.lineVsAsio)}

Scenario 2: --work-us ${WORK_US}, line codec, ${describe(w)}
${HEADER}
${row(s.w2)}
${row(s.w0)}
${verdict('workers 2 / workers 0', pool, `>= ${TARGETS.poolSpeedup}`, pool >= TARGETS.poolSpeedup)}

deliv/s: deliveries (every message to every client) per second, first send to last delivery.
msg/s: distinct messages per second. p50/p99: send to the sender's own echo. agent: load agent CPU / wall.
srv us: server CPU per message (all its threads; one message is fanned out to every client).
bg: most CPU (cores) other processes took during a run. ~ marks a figure kept although a run was
suspect (bg > ${BACKGROUND_WARN_CORES}, or less server CPU a message than --work-us): rerun on an idle machine.`)

  const problems = Object.values(s).flatMap((summary) => summary.errors.map((error) => `${summary.label}: ${error}`))
  for (const problem of problems) console.log(`! ${problem}`)
  for (const summary of Object.values(s)) for (const why of summary.suspects) console.log(`~ ${summary.label}: ${why}`)

  mkdirSync(dirname(args.json!), { recursive: true })
  const saved = {
    machine: info,
    reps: REPS,
    targets: TARGETS,
    ratios: { speedup, lineVsAsio, pool },
    summaries: s,
    runs: Object.fromEntries(results)
  }
  writeFileSync(args.json!, JSON.stringify(saved, null, 2) + '\n')
  console.log(`\nresults: ${args.json}`)
  // A miss is a finding, not a failure; a run that lost messages or crashed means no valid figure.
  return problems.length > 0 ? 1 : 0
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(error)
    process.exitCode = 1
  }
)
