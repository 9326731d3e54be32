// Two builds of Switchboard side by side: did a change make the broadcast scenario slower?
//   npx tsx bench/compare.ts --baseline DIR [--codec line|asio] [--pairs N] [--messages N]
// DIR is another checkout, built (e.g. `git worktree add /tmp/base <rev> && cd /tmp/base && npm ci &&
// npm run build`). Runs alternate (baseline first, then this build first, ...) through this checkout's
// load engine, so only the server differs; the medians' ratio is the figure, never a single run.
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { measure, type Workload } from './measurement'
import { CLI } from './paths'
import { count, median } from './report'
import { exitWith } from './suite'

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      baseline: { type: 'string' },
      codec: { type: 'string', default: 'line' },
      pairs: { type: 'string', default: '12' },
      messages: { type: 'string', default: '40' }
    }
  })
  const codec = values.codec
  if (!values.baseline || (codec !== 'line' && codec !== 'asio')) {
    console.error('usage: tsx bench/compare.ts --baseline DIR [--codec line|asio] [--pairs N] [--messages N]')
    return 2
  }
  // Scenario 1 of npm run bench, unless told otherwise.
  const load: Workload = { clients: 200, messages: Number(values.messages), size: 64, window: 8 }
  const builds = { baseline: join(values.baseline, 'out/main/cli.js'), 'this build': CLI }
  const deliveries: Record<string, number[]> = { baseline: [], 'this build': [] }
  for (let pair = 0; pair < Number(values.pairs); pair++) {
    const order = pair % 2 === 0 ? (['baseline', 'this build'] as const) : (['this build', 'baseline'] as const)
    for (const which of order) {
      const result = await measure(
        {
          id: which,
          label: which,
          codec,
          load,
          command: (port) => [process.execPath, [builds[which], 'serve', '--listen', `${codec}:${port}`, '--status-ms', '0']]
        },
        60_000
      )
      if (!result.report?.complete) {
        console.error(`${which}: ${result.error ?? result.report?.note ?? 'incomplete run'}`)
        return 1
      }
      deliveries[which].push(result.report.deliveriesPerSec)
      console.log(`  ${which.padEnd(10)} ${count.format(result.report.deliveriesPerSec).padStart(10)} deliv/s  server ${count.format(result.serverUsPerMsg ?? NaN)} us/msg`)
    }
  }
  const [base, mine] = [median(deliveries.baseline), median(deliveries['this build'])]
  console.log(`median deliv/s: baseline ${count.format(base)}, this build ${count.format(mine)}, this/baseline ${(mine / base).toFixed(3)}`)
  return 0
}

exitWith(main)
