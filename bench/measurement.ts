// One measurement: a fresh server, one load through the engine (its agents are separate processes,
// forked by the coordinator in this one), and the CPU that server, generator and the rest used meanwhile.
import { freePort } from '../scripts/asio-reference'
import { LoadRun, resolveLoadConfig } from '../src/main/core/load'
import type { LoadConfig, LoadProgress, LoadReport } from '../src/shared/load'
import { AGENT } from './paths'
import { agentsReaped, BACKGROUND_WARN_CORES, childPids, machineBusyTicks, ownTreeTicks, processTicks, ticksToMs, waitForQuiet } from './quiet-machine'
import { startServer, stopServer, whenAccepting } from './servers'

/** A load, without where it goes: the target and codec come from the measurement. */
export type Workload = Partial<Omit<LoadConfig, 'targets' | 'codec' | 'timeoutMs' | 'allowRemote'>>

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
export async function runMeasured(config: LoadConfig, timeoutMs: number, onProgress?: (progress: LoadProgress) => void): Promise<LoadReport> {
  // Whoever follows the run closely (the phase it is in) hears from it every 20 ms.
  const run = new LoadRun(config, { agentFile: AGENT, progressMs: onProgress ? 20 : 1000 })
  if (onProgress) run.on('progress', onProgress)
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
    const config = resolveLoadConfig({ ...m.load, targets: [{ host: '127.0.0.1', port }], codec: m.codec, timeoutMs })
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
      const serverMs = ticksToMs(serverAfter - serverBefore)
      // The coordinator and its agents; without /proc children, the agents' own figure (after start-up).
      const generatorMs =
        reaped && ownBefore !== null && ownAfter !== null
          ? ticksToMs(ownAfter - ownBefore)
          : report.agentCpu.reduce((total, share) => total + share, 0) * wallMs
      const otherMs = ticksToMs(machineAfter - machineBefore) - serverMs - generatorMs
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

/** What pairedRounds measured: each side's deliveries/s per valid run, and each round's ratio, b over a. */
export interface Paired {
  a: number[]
  b: number[]
  /** Per round, b over a: the two ran back to back, so the machine's drift between rounds cancels. */
  ratios: number[]
  /** Runs that gave no valid figure, or one to doubt. */
  notes: string[]
}

/** Measures `a` and `b` back to back in each of `reps` rounds, alternating which goes first (drift favours neither). */
export async function pairedRounds(a: Measurement, b: Measurement, reps: number, timeoutMs: number): Promise<Paired> {
  const paired: Paired = { a: [], b: [], ratios: [], notes: [] }
  for (let round = 0; round < reps; round++) {
    const rate = new Map<Measurement, number>()
    for (const m of round % 2 === 0 ? [a, b] : [b, a]) {
      const result = await measure(m, timeoutMs)
      const report = result.report
      const doubt = suspect(m, result)
      if (!report?.complete || result.error) paired.notes.push(`${m.label}, round ${round + 1}: ${result.error ?? report?.note ?? 'incomplete'}`)
      else {
        rate.set(m, report.deliveriesPerSec)
        paired[m === a ? 'a' : 'b'].push(report.deliveriesPerSec)
      }
      if (doubt) paired.notes.push(`${m.label}, round ${round + 1}: ${doubt}`)
      console.log(`  round ${round + 1}/${reps}: ${m.label} ${Math.round(report?.deliveriesPerSec ?? 0).toLocaleString('en-US')} deliv/s${doubt ? ` (${doubt})` : ''}`)
    }
    if (rate.has(a) && rate.has(b)) paired.ratios.push(rate.get(b)! / rate.get(a)!)
  }
  return paired
}
