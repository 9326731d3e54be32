// Broadcast benchmark: Switchboard against Asio's own chat_server example, side by side in one run.
//   npm run bench                       (builds, then runs this with tsx)
//   npx tsx bench/broadcast.ts --reps 5 (after `npm run build`)
// Every measurement gets a fresh server on a free loopback port and a fresh load generator (agents
// forked from out/main/load-agent.js); rounds are interleaved so drift in the machine hurts every
// server alike. The machinery is in suite.ts and the modules beside it.
import type { Measurement, Workload } from './measurement'
import { describe, HEADER, LEGEND, printProblems, problems, row, saveJson, verdict } from './report'
import { asioChatServer, switchboard } from './servers'
import { exitWith, runSuite } from './suite'

// poolCpu: the pool's hop must not eat the cores' speed-up (issue 7): server CPU per message with 2
// workers at most 15 % above --workers 0.
const TARGETS = { asioSpeedup: 3, lineVsAsio: 0.8, poolSpeedup: 1.5, poolCpu: 1.15 }

const BROADCAST: Workload = { clients: 200, messages: 40, size: 64, window: 8 }
const WORK: Workload = { clients: 20, messages: 200, size: 64, window: 8 }
const WORK_US = 200

function measurements(asioServer: string): Measurement[] {
  return [
    { id: 'a', label: '(a) Asio chat_server', codec: 'asio', load: BROADCAST, command: asioChatServer(asioServer) },
    { id: 'b', label: '(b) switchboard asio', codec: 'asio', load: BROADCAST, command: switchboard('asio') },
    { id: 'c', label: '(c) switchboard line', codec: 'line', load: BROADCAST, command: switchboard('line') },
    ...[2, 0].map((workers) => ({
      id: `w${workers}`,
      label: `switchboard line --workers ${workers}`,
      codec: 'line' as const,
      load: WORK,
      workUs: WORK_US,
      command: switchboard('line', ['--work-us', String(WORK_US), '--workers', String(workers)])
    }))
  ]
}

async function main(): Promise<number> {
  const suite = await runSuite('bench/broadcast.ts', 'latest.json', 'Switchboard broadcast benchmark', measurements)
  if (!suite) return 1
  const { args, info, results, s } = suite
  const speedup = s.b.deliveriesPerSec / s.a.deliveriesPerSec
  const lineVsAsio = s.c.deliveriesPerSec / s.b.deliveriesPerSec
  const pool = s.w2.deliveriesPerSec / s.w0.deliveriesPerSec
  const poolCpu = s.w2.serverUsPerMsg / s.w0.serverUsPerMsg
  console.log(`
Scenario 1: broadcast, ${describe(BROADCAST)}
${HEADER}
${row(s.a)}
${row(s.b)}
${row(s.c)}
${verdict('(b)/(a) deliveries/s', speedup, `>= ${TARGETS.asioSpeedup}`, speedup >= TARGETS.asioSpeedup)}
${verdict('(c)/(b) deliveries/s', lineVsAsio, `>= ${TARGETS.lineVsAsio} (within 20%)`, lineVsAsio >= TARGETS.lineVsAsio)}

Scenario 2: --work-us ${WORK_US}, line codec, ${describe(WORK)}
${HEADER}
${row(s.w2)}
${row(s.w0)}
${verdict('workers 2 / workers 0', pool, `>= ${TARGETS.poolSpeedup}`, pool >= TARGETS.poolSpeedup)}
${verdict('srv us, workers 2 / 0', poolCpu, `<= ${TARGETS.poolCpu}`, poolCpu <= TARGETS.poolCpu)}

${LEGEND}`)

  const summaries = Object.values(s)
  printProblems(summaries)
  saveJson(args.json, {
    machine: info,
    reps: args.reps,
    targets: TARGETS,
    ratios: { speedup, lineVsAsio, pool, poolCpu },
    summaries: s,
    runs: Object.fromEntries(results)
  })
  // A miss is a finding, not a failure; a run that lost messages or crashed means no valid figure.
  return problems(summaries).length > 0 ? 1 : 0
}

exitWith(main)
