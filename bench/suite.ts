// The run of a benchmark script: the prologue they all share, the interleaved rounds of measurements,
// and the exit code it ends with.
import { existsSync } from 'node:fs'
import { buildAsioProgram } from '../scripts/asio-reference'
import { parseBenchArgs, type BenchArgs } from './args'
import { measure, suspect, type Measurement, type Result } from './measurement'
import { AGENT, CLI } from './paths'
import { count, machine, ms, printMachine, summarise, type Summary } from './report'
import { killServersOnInterrupt } from './servers'

/** Checks the build is there and builds Asio's chat_server; null (having said why) if either fails. */
async function prepare(): Promise<string | null> {
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

/**
 * Measures every configuration once a round, each round starting one further along so no server
 * always runs first (or last); a run other processes cut into is redone, twice at most.
 */
async function runRounds(measurements: Measurement[], args: BenchArgs): Promise<Map<string, Result[]>> {
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
 * What every benchmark script does first: read its options, see that no interrupt leaves a server
 * behind, build Asio's chat_server, print the machine, run the measurements in interleaved rounds and
 * summarise each. Null if Asio cannot be built.
 */
export async function runSuite(
  script: string,
  defaultJson: string,
  title: string,
  measurements: (asioServer: string) => Measurement[]
): Promise<Suite | null> {
  const args = parseBenchArgs(script, defaultJson)
  killServersOnInterrupt()
  const asioServer = await prepare()
  if (asioServer === null) return null
  const info = machine()
  printMachine(title, info, args.reps)
  const all = measurements(asioServer)
  const results = await runRounds(all, args)
  const s = Object.fromEntries(all.map((m) => [m.id, summarise(m, results.get(m.id)!)]))
  return { args, info, results, s }
}
