// What the runs of a bench end in: medians per configuration, the tables and verdicts printed, the
// machine they ran on, and the JSON saved.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, release, totalmem } from 'node:os'
import { dirname } from 'node:path'
import { LOAD_DEFAULTS, type LoadReport } from '../src/shared/load'
import { suspect, type Measurement, type Result, type Workload } from './measurement'
import { BACKGROUND_WARN_CORES } from './quiet-machine'

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

/**
 * Two configurations run back to back in each round (pairedRounds): each one's median deliveries/s, and the
 * median of the rounds' ratios, second over first, against its target.
 */
export function pairedTable(
  column: string,
  [first, second]: [{ label: string; rates: number[] }, { label: string; rates: number[] }],
  ratioName: string,
  ratios: number[],
  target: number
): string {
  const share = median(ratios)
  return `${table(
    [column, 'runs', 'median deliv/s'],
    [first, second].map(({ label, rates }) => [label, String(rates.length), count.format(median(rates))])
  )}
${verdict(ratioName, share, `>= ${target}`, share >= target)}
  (the median of each round's ratio, the two run back to back: ${ratios.map((pair) => pair.toFixed(2)).join(', ')})`
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
