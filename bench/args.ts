// The options every benchmark script takes.
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { BENCH_DIR } from './paths'

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
