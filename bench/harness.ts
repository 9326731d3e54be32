// What every benchmark here needs: a quiet machine, a fresh server per run on a free loopback port, one
// measurement through the load engine (its agents are separate processes, forked by the coordinator in
// this one), CPU accounting from /proc, interleaved rounds, medians, and the tables and JSON they end in.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { availableParallelism, cpus, release, totalmem } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { buildAsioProgram, freePort } from '../scripts/asio-reference'
import { LoadRun, resolveLoadConfig } from '../src/main/core/load'
import { LOAD_DEFAULTS, type LoadConfig, type LoadReport } from '../src/shared/load'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const BENCH_DIR = join(ROOT, '.bench')
export const CLI = join(ROOT, 'out/main/cli.js')
export const AGENT = join(ROOT, 'out/main/load-agent.js')

// ---------------------------------------------------------------- arguments

export interface BenchArgs {
  reps: number
  timeoutMs: number
  json: string
}

/** --reps N, --timeout-ms MS, --json FILE; exits 2 on anything else. */
export function parseBenchArgs(script: string, defaultJson: string): BenchArgs {
  const usage = `usage: tsx ${script} [--reps N] [--timeout-ms MS] [--json FILE]`
  let values
  try {
    ;({ values } = parseArgs({
      options: {
        reps: { type: 'string', default: '3' },
        'timeout-ms': { type: 'string', default: '120000' },
        json: { type: 'string', default: join(BENCH_DIR, defaultJson) }
      }
    }))
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`)
    process.exit(2)
  }
  const reps = Number(values.reps)
  const timeoutMs = Number(values['timeout-ms'])
  if (!Number.isInteger(reps) || reps < 1 || !Number.isInteger(timeoutMs) || timeoutMs < 1) {
    console.error(usage)
    process.exit(2)
  }
  return { reps, timeoutMs, json: values.json! }
}

/** Checks the build is there and builds Asio's chat_server; null (having said why) if either fails. */
export async function prepare(): Promise<string | null> {
  for (const file of [CLI, AGENT]) {
    if (!existsSync(file)) {
      console.error(`bench: ${file} is missing; build first (npm run build), or run it through npm run`)
      return null
    }
  }
  try {
    return await buildAsioProgram('chat_server')
  } catch (error) {
    console.error(`bench: ${(error as Error).message}`)
    return null
  }
}

// ---------------------------------------------------------------- a quiet machine

/**
 * The server and the agent share two cores: anything else running (a test suite, a build) takes
 * from them and skews the figures, and a busy core at start-up also skews --work-us, which the
 * server calibrates against the clock. So each run waits for the machine to be idle, and counts
 * the CPU that neither the server nor the load generator used while it ran ("background", in cores).
 */
const TICKS_PER_SEC = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()
const QUIET_CORES = 0.1
export const BACKGROUND_WARN_CORES = 0.15

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

/** Fields of /proc/<pid>/stat after the command name, which may itself contain spaces. */
function statFields(pid: number | 'self' | undefined): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return null
  }
}

/** CPU time of one process (all its threads), in ticks. */
function processTicks(pid: number | undefined): number | null {
  const fields = statFields(pid)
  return fields ? Number(fields[11]) + Number(fields[12]) : null // utime, stime
}

/**
 * CPU time of this process (the coordinator) and of the children it has reaped, in ticks. The load
 * agents are forked from here, so once they are reaped their whole life (start-up included) is in it.
 */
function ownTreeTicks(): number | null {
  const fields = statFields('self')
  return fields ? Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]) : null
}

/** This process's children, reaped or not yet (Linux with CONFIG_PROC_CHILDREN; null elsewhere). */
function childPids(): number[] | null {
  let threads: string[]
  try {
    threads = readdirSync('/proc/self/task')
  } catch {
    return null
  }
  const pids: number[] = []
  for (const tid of threads) {
    try {
      for (const pid of readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim().split(/\s+/)) if (pid) pids.push(Number(pid))
    } catch {
      if (tid === String(process.pid)) return null // a thread may end while we read; the main one may not
    }
  }
  return pids
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Waits until the children forked since `before` (the load agents) have exited and been reaped, so
 * that their CPU is in ownTreeTicks(): the coordinator reports as soon as each agent has sent its
 * figures, a moment before it exits. Children from before (the server, tsx's esbuild) may stay.
 */
async function agentsReaped(before: number[] | null): Promise<boolean> {
  if (before === null) return false
  const deadline = Date.now() + 7000 // the coordinator kills agents 5s after the run ends
  for (;;) {
    const pids = childPids()
    if (pids === null) return false
    if (pids.every((pid) => before.includes(pid))) return true
    if (Date.now() > deadline) return false
    await sleep(5)
  }
}

/** Waits (up to 60s) until other processes use less than QUIET_CORES; returns what they used last. */
export async function waitForQuiet(): Promise<number> {
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

// ---------------------------------------------------------------- servers

export interface Server {
  child: ChildProcess
  output: string
}

/** Servers running now: an interrupted bench must not leave them behind (agents leave with their coordinator). */
const children = new Set<ChildProcess>()

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of children) child.kill('SIGKILL')
    process.exit(130)
  })
}

export function startServer(command: string, argv: string[]): Server {
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  child.once('exit', () => children.delete(child))
  const server: Server = { child, output: '' }
  const keep = (chunk: Buffer) => {
    server.output = (server.output + chunk.toString('utf8')).slice(-4000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  return server
}

/** Resolves once the server accepts a connection on 127.0.0.1:port. */
export async function whenAccepting(server: Server, port: number): Promise<void> {
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
    await sleep(25)
  }
  throw new Error(`server did not accept on 127.0.0.1:${port} within 15s:\n${server.output}`)
}

export async function stopServer(server: Server): Promise<void> {
  const { child } = server
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

/** Switchboard's server on one listener, with no status lines to drain. */
export function switchboard(listen: 'line' | 'asio', extra: string[] = []): (port: number) => [string, string[]] {
  return (port) => [process.execPath, [CLI, 'serve', '--listen', `${listen}:${port}`, '--status-ms', '0', ...extra]]
}

/** Asio's chat_server binds every interface on the port it is given; only 127.0.0.1 is ever dialled. */
export function asioChatServer(binary: string): (port: number) => [string, string[]] {
  return (port) => [binary, [String(port)]]
}

// ---------------------------------------------------------------- one measurement

/** A load, without where it goes: host, port and codec come from the measurement. */
export type Workload = Partial<Omit<LoadConfig, 'host' | 'port' | 'codec' | 'timeoutMs' | 'allowRemote'>>

export interface Measurement {
  id: string
  label: string
  codec: LoadConfig['codec']
  load: Workload
  /** The server's simulated work per message (--work-us), if any. */
  workUs?: number
  /** The server's command for a given port. */
  command(port: number): [string, string[]]
}

export interface Result {
  report?: LoadReport
  error?: string
  /** CPU used by anything but this run's server and load generator while it ran, in cores (Linux only). */
  background?: number
  /** The server's CPU time per message sent (each one fanned out to every client), in microseconds. */
  serverUsPerMsg?: number
  /** What the server said about its logic threads ("2 worker threads"). */
  logic?: string
}

/**
 * Runs the load through the engine, in this process. The engine bounds connecting, joining and
 * draining by config.timeoutMs but not a closed loop that stalls while sending (a server that drops
 * messages), so the whole run is bounded here too.
 */
async function runMeasured(config: LoadConfig, timeoutMs: number): Promise<LoadReport> {
  const run = new LoadRun(config, { agentFile: AGENT, progressMs: 1000 })
  const watchdog = setTimeout(() => run.abort(`the run took longer than ${timeoutMs}ms in all`), timeoutMs)
  try {
    return await run.done
  } finally {
    clearTimeout(watchdog)
  }
}

export async function measure(m: Measurement, timeoutMs: number): Promise<Result> {
  await waitForQuiet()
  const port = await freePort()
  const [command, argv] = m.command(port)
  const server = startServer(command, argv)
  try {
    await whenAccepting(server, port)
    const config = resolveLoadConfig({ ...m.load, host: '127.0.0.1', port, codec: m.codec, timeoutMs })
    const machineBefore = machineBusyTicks()
    const serverBefore = processTicks(server.child.pid)
    const ownBefore = ownTreeTicks()
    const childrenBefore = childPids()
    const startedAt = performance.now()
    const report = await runMeasured(config, timeoutMs)
    const reaped = await agentsReaped(childrenBefore)
    const wallMs = performance.now() - startedAt
    const machineAfter = machineBusyTicks()
    const serverAfter = processTicks(server.child.pid)
    const ownAfter = ownTreeTicks()
    const result: Result = { report, logic: /logic on ([^,\n]+)/.exec(server.output)?.[1] }
    const { exitCode, signalCode } = server.child
    if (exitCode !== null || signalCode !== null) {
      // Its figures may be whole, but a server that dies under load is a finding to report, not to average.
      result.error = `server exited during the run (${signalCode ?? `code ${exitCode}`}):\n${server.output.trim()}`
    }
    if (machineBefore !== null && machineAfter !== null && serverBefore !== null && serverAfter !== null) {
      const serverMs = ((serverAfter - serverBefore) / TICKS_PER_SEC) * 1000
      // The coordinator and its agents; without /proc children, the agents' own figure (after start-up).
      const generatorMs =
        reaped && ownBefore !== null && ownAfter !== null
          ? ((ownAfter - ownBefore) / TICKS_PER_SEC) * 1000
          : report.agentCpu.reduce((total, share) => total + share, 0) * wallMs
      const otherMs = ((machineAfter - machineBefore) / TICKS_PER_SEC) * 1000 - serverMs - generatorMs
      result.background = Math.max(0, otherMs / wallMs)
      if (report.sent > 0) result.serverUsPerMsg = (serverMs * 1000) / report.sent
    }
    return result
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
export function suspect(m: Measurement, result: Result): string | null {
  if ((result.background ?? 0) > BACKGROUND_WARN_CORES) return `background ${result.background!.toFixed(2)} cores`
  if (m.workUs && result.serverUsPerMsg !== undefined && result.serverUsPerMsg < m.workUs * 0.9) {
    return `server used ${Math.round(result.serverUsPerMsg)}us of CPU a message for --work-us ${m.workUs}`
  }
  return null
}

/**
 * Measures every configuration once a round, each round starting one further along so no server
 * always runs first (or last); a run other processes cut into is redone, twice at most.
 */
export async function runRounds(measurements: Measurement[], args: BenchArgs): Promise<Map<string, Result[]>> {
  const results = new Map<string, Result[]>(measurements.map((m) => [m.id, []]))
  const width = Math.max(...measurements.map((m) => m.label.length))
  for (let round = 0; round < args.reps; round++) {
    for (let k = 0; k < measurements.length; k++) {
      const m = measurements[(round + k) % measurements.length]
      process.stdout.write(`  round ${round + 1}/${args.reps}: ${m.label.padEnd(width)} `)
      let result = await measure(m, args.timeoutMs)
      for (let redo = 0; redo < 2 && suspect(m, result); redo++) {
        process.stdout.write(`(${suspect(m, result)}: redone) `)
        result = await measure(m, args.timeoutMs)
      }
      results.get(m.id)!.push(result)
      const r = result.report
      if (!r) {
        console.log(`FAILED: ${result.error}`)
        continue
      }
      const bg = (result.background ?? 0).toFixed(2)
      const incomplete = (r.complete ? '' : `  INCOMPLETE: ${r.note ?? ''}`) + (result.error ? `  ! ${result.error.split('\n')[0]}` : '')
      console.log(`${count.format(r.deliveriesPerSec).padStart(10)} deliv/s  p99 ${ms(r.latencyMs.p99).padStart(6)} ms  bg ${bg}${incomplete}`)
    }
  }
  return results
}

// ---------------------------------------------------------------- summaries and tables

export function median(values: number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((x, y) => x - y)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export interface Summary {
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
  /** The load generator's CPU (all its agents), as a share of one core. */
  agentCpu: number
  serverUsPerMsg: number
  /** The most CPU other processes took during any of its runs, in cores. */
  background: number
  /** Runs kept although still suspect after their redos (see suspect()). */
  suspects: string[]
  all: number[]
}

/** Medians per column over a configuration's runs. */
export function summarise(m: Measurement, results: Result[]): Summary {
  const reports = results.flatMap((result) => (result.report ? [result.report] : []))
  const pick = (f: (r: LoadReport) => number) => median(reports.map(f))
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
    agentCpu: pick((r) => r.agentCpu.reduce((total, share) => total + share, 0)),
    serverUsPerMsg: median(results.flatMap((result) => (result.serverUsPerMsg === undefined ? [] : [result.serverUsPerMsg]))),
    background: Math.max(0, ...results.map((result) => result.background ?? 0)),
    suspects: results.flatMap((result) => suspect(m, result) ?? []),
    all: reports.map((r) => r.deliveriesPerSec)
  }
}

/** Every problem that leaves a configuration without a valid figure, one line each. */
export function problems(summaries: Summary[]): string[] {
  return summaries.flatMap((summary) => summary.errors.map((error) => `${summary.label}: ${error}`))
}

/** Prints what went wrong (!) and what is suspect (~); the bench fails only on the former. */
export function printProblems(summaries: Summary[]): void {
  for (const problem of problems(summaries)) console.log(`! ${problem}`)
  for (const summary of summaries) for (const why of summary.suspects) console.log(`~ ${summary.label}: ${why}`)
}

export const count = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })
export const ms = (value: number) => (Number.isNaN(value) ? '-' : value < 10 ? value.toFixed(2) : value.toFixed(1))
export const ratio = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : '-')

/** ' !' for a configuration with a lost or failed run, ' ~' for one kept although suspect. */
export function flags(s: Summary): string {
  return (s.incomplete > 0 || s.errors.length > 0 ? ' !' : '') + (s.suspects.length > 0 ? ' ~' : '')
}

export function row(s: Summary): string {
  const label = s.logic ? `${s.label} (${s.logic})` : s.label
  return [
    label.padEnd(48),
    count.format(s.deliveriesPerSec).padStart(12),
    count.format(s.messagesPerSec).padStart(9),
    ms(s.p50).padStart(9),
    ms(s.p99).padStart(9),
    `${Math.round(s.agentCpu * 100)}%`.padStart(6),
    (Number.isNaN(s.serverUsPerMsg) ? '-' : count.format(s.serverUsPerMsg)).padStart(8),
    s.background.toFixed(2).padStart(5),
    `  ${s.all.map((v) => count.format(v)).join(' / ')}${flags(s)}`
  ].join(' ')
}

export const HEADER = [
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

export const LEGEND = `deliv/s: deliveries (every message to every client) per second, first send to last delivery.
msg/s: distinct messages per second. p50/p99: send to the sender's own echo. agent: load agent CPU / wall.
srv us: server CPU per message (all its threads; one message is fanned out to every client).
bg: most CPU (cores) other processes took during a run. ~ marks a figure kept although a run was
suspect (bg > ${BACKGROUND_WARN_CORES}, or less server CPU a message than --work-us): rerun on an idle machine.`

/** A plain text table: the first column left-aligned, the others right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((cells) => cells[i].length)))
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')
  return [line(header), ...rows.map(line)].join('\n')
}

export function verdict(name: string, value: number, target: string, pass: boolean): string {
  return `  ${name.padEnd(28)} ${ratio(value).padStart(6)}   target ${target.padEnd(22)} ${pass ? 'PASS' : 'MISS'}`
}

/** "200 clients x 40 messages x 64 B, window 8 (1,600,000 deliveries a run)", or its open-loop form. */
export function describe(load: Workload): string {
  const w = { ...LOAD_DEFAULTS, ...load }
  if (w.mode === 'open') {
    const seconds = w.durationMs / 1000
    const deliveries = count.format(w.clients * w.clients * w.rate * seconds)
    return `${w.clients} clients at ${w.rate} msg/s each for ${seconds} s x ${w.size} B, open loop (about ${deliveries} deliveries a run)`
  }
  const deliveries = count.format(w.clients * w.clients * w.messages)
  return `${w.clients} clients x ${w.messages} messages x ${w.size} B, window ${w.window} (${deliveries} deliveries a run)`
}

export function machine(): Record<string, string> {
  let asioVersion = '?'
  try {
    const versionHeader = readFileSync('/usr/include/asio/version.hpp', 'utf8')
    asioVersion = /ASIO_VERSION\s+\d+\s*\/\/\s*([\d.]+)/.exec(versionHeader)?.[1] ?? '?'
  } catch {}
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

export function printMachine(title: string, info: Record<string, string>, reps: number): void {
  console.log(title)
  for (const [key, value] of Object.entries(info)) console.log(`  ${key.padEnd(7)} ${value}`)
  console.log(`  method  loopback; fresh server per run; load agent in its own process; ${reps} interleaved rounds, medians\n`)
}

export function saveJson(file: string, data: unknown): void {
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n')
  console.log(`\nresults: ${file}`)
}

/** Runs a bench's main and sets the exit code: 1 when it could not produce a valid figure. */
export function exitWith(main: () => Promise<number>): void {
  main().then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      console.error(error)
      process.exitCode = 1
    }
  )
}

export interface Suite {
  args: BenchArgs
  info: Record<string, string>
  results: Map<string, Result[]>
  /** Summaries by measurement id. */
  s: Record<string, Summary>
}

/**
 * What every benchmark script does first: read its options, build Asio's chat_server, print the
 * machine, run the measurements in interleaved rounds and summarise each. Null if Asio cannot be built.
 */
export async function runSuite(
  script: string,
  defaultJson: string,
  title: string,
  measurements: (asioServer: string) => Measurement[]
): Promise<Suite | null> {
  const args = parseBenchArgs(script, defaultJson)
  const asioServer = await prepare()
  if (asioServer === null) return null
  const info = machine()
  printMachine(title, info, args.reps)
  const all = measurements(asioServer)
  const results = await runRounds(all, args)
  const s = Object.fromEntries(all.map((m) => [m.id, summarise(m, results.get(m.id)!)]))
  return { args, info, results, s }
}
