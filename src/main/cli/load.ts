import { writeFile } from 'node:fs/promises'
import { describeOrder, describeStorm, formatTarget, type LoadProgress, type LoadReport, type Percentiles, type TargetReport } from '../../shared/load'
import { LoadRun } from '../core/load/coordinator'
import { searchRate } from '../core/load/rate-search'
import { compact, count, ms } from './format'
import type { LoadArgs } from './load-args'

/** Writes a --json report; a failure names the file, not our code. */
async function writeJson(file: string, data: unknown): Promise<void> {
  try {
    await writeFile(file, JSON.stringify(data, null, 2))
  } catch (error) {
    throw new Error(`cannot write ${file}: ${(error as Error).message}`)
  }
}

export function formatProgress(p: LoadProgress): string {
  return [
    `[${(p.elapsedMs / 1000).toFixed(1)}s] ${p.phase}`,
    `open ${count.format(p.open)}`,
    `sent ${compact.format(p.sentPerSec)}/s`,
    `deliveries ${compact.format(p.deliveriesPerSec)}/s`,
    `p99 ${ms(p.p99Ms)} (run ${ms(p.p99SoFarMs)})`,
    `errors ${p.errors}`
  ].join(' | ')
}

const percentiles = (p: Percentiles) =>
  `p50 ${p.p50}  p90 ${p.p90}  p99 ${p.p99}  p99.9 ${p.p999}  max ${p.max}  (${count.format(p.count)} samples)`

const describeTarget = (t: TargetReport) =>
  `${formatTarget(t)} ${count.format(t.connected)} of ${count.format(t.clients)} connected, ${count.format(t.deliveries)} deliveries`

export function formatReport(r: LoadReport): string {
  const c = r.config
  const loop = c.mode === 'closed' ? `closed loop, window ${c.window}` : `open loop, ${c.rate} msg/s per client`
  const amount = [c.messages > 0 ? `${c.messages} messages` : '', c.durationMs > 0 ? `${c.durationMs / 1000}s` : ''].filter(Boolean).join(' or ')
  const errors = Object.entries(r.errors).map(([reason, n]) => `${reason} x${n}`)
  const storm = r.storm ? describeStorm(r.storm) : null
  return [
    `load: ${count.format(c.clients)} clients -> ${c.targets.map(formatTarget).join(', ')} (${c.codec}), ${loop}, ${amount} of ${c.size} B` +
      (c.roomSize > 0 ? `, rooms of ${c.roomSize}` : '') +
      `, ${c.agents} agent${c.agents > 1 ? 's' : ''}` +
      (c.resume ? `, resuming${c.stormAfterMs > 0 ? `, storm after ${c.stormAfterMs / 1000}s` : ''}` : ''),
    `  ${r.complete ? 'complete' : 'INCOMPLETE'}: ${count.format(r.deliveries)} of ${count.format(r.expected)} deliveries, ` +
      `${count.format(r.sent)} messages sent, in ${(r.durationMs / 1000).toFixed(3)}s${r.note ? ` (${r.note})` : ''}`,
    `  deliveries/s ${compact.format(r.deliveriesPerSec)}  messages/s ${compact.format(r.messagesPerSec)}  ` +
      `in ${compact.format(r.bytesInPerSec)}B/s  out ${compact.format(r.bytesOutPerSec)}B/s`,
    `  latency ms: ${percentiles(r.latencyMs)}`,
    `  connect ms: ${percentiles(r.connectMs)}`,
    ...(r.handshakeMs ? [`  TLS handshake ms: ${percentiles(r.handshakeMs)}`] : []),
    `  errors: ${errors.length > 0 ? errors.join(', ') : 'none'}${r.protocolErrors > 0 ? `; ${r.protocolErrors} protocol errors` : ''}`,
    // One target's figures are the totals above.
    ...(r.targets.length > 1 ? [`  per target: ${r.targets.map(describeTarget).join('; ')}`] : []),
    `  order: ${describeOrder(r.order)}`,
    ...(storm ? [`  storm: ${storm[0]}`, `  ${storm[1]}`] : []),
    `  generator CPU: ${r.agentCpu.map((share) => `${Math.round(share * 100)}%`).join(' ')} of a core per agent`
  ].join('\n')
}

/** Prints progress on one line (rewritten in place on a terminal, once a second otherwise). */
function progressPrinter(): { print(p: LoadProgress): void; end(): void } {
  const tty = process.stdout.isTTY
  let last = 0
  return {
    print: (p) => {
      if (tty) return void process.stdout.write(`\r${formatProgress(p)}\x1b[K`)
      if (p.elapsedMs - last < 1000 && p.phase !== 'done') return
      last = p.elapsedMs
      console.log(formatProgress(p))
    },
    end: () => {
      if (tty) process.stdout.write('\n')
    }
  }
}

/** `switchboard load`: one run, or a rate search; resolves with the exit code (1 when incomplete). */
export async function load(args: LoadArgs, agentFile: string): Promise<number> {
  const progress = progressPrinter()
  if (args.search) {
    const search = args.search
    console.log(`rate search: highest open-loop rate per client with p99 <= ${search.targetP99Ms}ms, ${search.trialMs / 1000}s trials`)
    const result = await searchRate(args.config, search, { agentFile }, (trial) =>
      console.log(`  ${count.format(trial.rate)} msg/s per client: p99 ${trial.report.latencyMs.p99}ms, ` +
        `${trial.report.complete ? 'complete' : 'incomplete'} -> ${trial.kept ? 'kept' : 'missed'}`)
    )
    if (args.json) await writeJson(args.json, result)
    if (!result.best) {
      const lowest = result.trials[0].report
      const outcome = lowest.complete ? 'complete' : `incomplete: ${lowest.note ?? 'errors'}`
      console.log(
        `no rate kept p99 under ${search.targetP99Ms}ms: the lowest, ${count.format(search.minRate)} msg/s per client, gave p99 ${lowest.latencyMs.p99}ms (${outcome})`
      )
      return 1
    }
    console.log(`best: ${count.format(result.best.rate)} msg/s per client (${compact.format(result.best.report.messagesPerSec)} msg/s in all)`)
    console.log(formatReport(result.best.report))
    return 0
  }

  const run = new LoadRun(args.config, { agentFile })
  run.on('progress', progress.print)
  // Ctrl-C stops sending; the run still drains and reports. A second one leaves at once.
  process.once('SIGINT', () => {
    run.stop()
    process.once('SIGINT', () => process.exit(130))
  })
  const report = await run.done
  progress.end()
  console.log(formatReport(report))
  if (args.json) await writeJson(args.json, report)
  return report.complete ? 0 : 1
}
