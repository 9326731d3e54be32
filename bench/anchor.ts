// Anchor comparison: the same workloads against Asio's own chat_server example and against Switchboard
// (its asio listener and its line listener), in one run on one machine, as one table with ratios.
//   npm run bench:anchor                (builds, then runs this with tsx)
//   npx tsx bench/anchor.ts --reps 5    (after `npm run build`)
// A fresh server for every run: Asio's chat_server replays its last 100 messages to whoever joins, so
// a reused one would hand one run's traffic to the next. The machinery is in suite.ts and the modules
// beside it.
import type { Measurement, Workload } from './measurement'
import { count, describe, flags, HEADER, LEGEND, ms, printProblems, problems, ratio, row, saveJson, type Summary, table } from './report'
import { asioChatServer, switchboard } from './servers'
import { exitWith, runSuite } from './suite'

interface AnchorWorkload {
  id: string
  name: string
  load: Workload
}

const WORKLOADS: AnchorWorkload[] = [
  { id: 'W1', name: 'broadcast', load: { clients: 200, messages: 40, size: 64, window: 8 } },
  { id: 'W2', name: 'many clients', load: { clients: 1000, messages: 10, size: 64, window: 2 } },
  { id: 'W3', name: 'open loop', load: { clients: 100, mode: 'open', rate: 20, messages: 0, durationMs: 3000, size: 64 } }
]

interface AnchorServer {
  id: string
  name: string
  codec: Measurement['codec']
  command(asioServer: string): Measurement['command']
}

const SERVERS: AnchorServer[] = [
  { id: 'a', name: '(a) Asio chat_server', codec: 'asio', command: (binary) => asioChatServer(binary) },
  { id: 'b', name: '(b) switchboard asio', codec: 'asio', command: () => switchboard('asio') },
  { id: 'c', name: '(c) switchboard line', codec: 'line', command: () => switchboard('line') }
]

function measurements(asioServer: string): Measurement[] {
  return WORKLOADS.flatMap((w) =>
    SERVERS.map((server) => ({
      id: `${w.id}${server.id}`,
      label: `${w.id} ${server.name}`,
      codec: server.codec,
      load: w.load,
      command: server.command(asioServer)
    }))
  )
}

/** One row per workload and server; ratios against Asio's chat_server under the same workload. */
function anchorTable(summaries: Record<string, Summary>): string {
  const rows = WORKLOADS.flatMap((w) => {
    const asio = summaries[`${w.id}a`]
    return SERVERS.map((server, i) => {
      const s = summaries[`${w.id}${server.id}`]
      return [
        i === 0 ? `${w.id} ${w.name}` : '',
        server.name,
        count.format(s.deliveriesPerSec),
        ms(s.p99),
        ratio(s.deliveriesPerSec / asio.deliveriesPerSec),
        ratio(s.p99 / asio.p99) + flags(s)
      ]
    })
  })
  return table(['workload', 'server', 'deliveries/s', 'p99 ms', 'deliv/s vs Asio', 'p99 vs Asio (lower is better)'], rows)
}

async function main(): Promise<number> {
  const suite = await runSuite('bench/anchor.ts', 'anchor.json', 'Switchboard anchor comparison: Asio chat_server vs Switchboard (asio and line listeners)', measurements)
  if (!suite) return 1
  const { args, info, results, s } = suite
  console.log(`\n${anchorTable(s)}\n`)
  for (const w of WORKLOADS) console.log(`${w.id} ${w.name}: ${describe(w.load)}`)
  console.log('Switchboard runs with its default logic workers; medians of each column over the rounds.')
  for (const w of WORKLOADS) {
    console.log(`\n${w.id} ${w.name}, details\n${HEADER}`)
    for (const server of SERVERS) console.log(row(s[`${w.id}${server.id}`]))
  }
  console.log(`\n${LEGEND}`)

  const summaries = Object.values(s)
  printProblems(summaries)
  saveJson(args.json, {
    machine: info,
    reps: args.reps,
    workloads: WORKLOADS,
    ratios: Object.fromEntries(
      WORKLOADS.flatMap((w) =>
        SERVERS.map((server) => {
          const [mine, asio] = [s[`${w.id}${server.id}`], s[`${w.id}a`]]
          return [`${w.id}${server.id}`, { deliveriesPerSec: mine.deliveriesPerSec / asio.deliveriesPerSec, p99: mine.p99 / asio.p99 }]
        })
      )
    ),
    summaries: s,
    runs: Object.fromEntries(results)
  })
  return problems(summaries).length > 0 ? 1 : 0
}

exitWith(main)
