// Resume benchmark (message ids, history and resume): a reconnect storm, and what ids cost a broadcast.
//   npm run bench:resume                 (builds, then runs this with tsx)
//   npx tsx bench/resume.ts --reps 3     (after `npm run build`)
// 1. Reconnect storm: 2,000 resuming line clients in rooms of 20, each sending 1 message/s; 3 s into sending
//    the server is killed (SIGKILL) and started again on its port. Once as one node alone (its history dies
//    with it: every client must be told of a gap), once as node 1 of a two-node cluster with Redis (the room
//    streams keep the history: its clients must resume from them with no gap). Reported side by side: the
//    time from each client's loss to its RESUME-END (p50, p99, max), clients back, messages recovered,
//    gaps, duplicates (must be 0) and the order check across the reconnect.
// 2. CAP ids on broadcast: the broadcast bench's scenario 1 with clients that asked for ids (tagged MSG lines,
//    which the generator reads too) against clients that did not, back to back in each round on fresh servers:
//    the median of the rounds' deliveries/s ratios, with ids over without, at least 0.9.
import { freePort } from '../scripts/asio-reference'
import { RedisServer } from '../scripts/redis-server'
import { LoadRun, resolveLoadConfig } from '../src/main/core/load'
import type { LoadReport } from '../src/shared/load'
import { parseBenchArgs } from './args'
import { pairedRounds, type Measurement, type Workload } from './measurement'
import { AGENT } from './paths'
import { count, describe, machine, median, ms, pairedTable, printMachine, saveJson, table } from './report'
import { killServersOnInterrupt, startServer, stopServer, switchboard, whenAccepting, type Server } from './servers'
import { exitWith } from './suite'

const STORM = { clients: 2000, roomSize: 20, mode: 'open' as const, rate: 1, messages: 0, durationMs: 8000, size: 64, agents: 2, resume: true, stormAfterMs: 3000 }
const BROADCAST: Workload = { clients: 200, messages: 40, size: 64, window: 8 }
const TARGET_IDS_SHARE = 0.9

type Setup = 'one node' | 'cluster node'

/** One storm: the servers started, the load run with the kill and restart at its storm, everything stopped after. */
async function storm(setup: Setup, timeoutMs: number): Promise<LoadReport> {
  const redis = setup === 'cluster node' ? await RedisServer.start() : null
  const servers: Server[] = []
  const ports = redis ? [await freePort(), await freePort()] : [await freePort()]
  const start = async (i: number, nodeId: string): Promise<Server> => {
    const cluster = redis ? ['--cluster', redis.url, '--node-id', nodeId] : []
    const server = startServer(...switchboard('line', ['--max-rate', '0', ...cluster])(ports[i]))
    servers.push(server)
    await whenAccepting(server, ports[i])
    return server
  }
  try {
    let first = await start(0, 'bench-1')
    if (redis) await start(1, 'bench-2')
    const restartServer = async (): Promise<string> => {
      const startedAt = performance.now()
      const exited = new Promise((resolve) => first.child.once('exit', resolve))
      first.child.kill('SIGKILL')
      await exited
      // A new id: the killed run's lease stands until it runs out, and would refuse its own id meanwhile.
      first = await start(0, 'bench-1-again')
      return `killed and started again in ${Math.round(performance.now() - startedAt)} ms`
    }
    const config = resolveLoadConfig({ ...STORM, targets: ports.map((port) => ({ host: '127.0.0.1', port })), timeoutMs })
    const run = new LoadRun(config, { agentFile: AGENT, progressMs: 1000, restartServer })
    const watchdog = setTimeout(() => run.abort(`the run took longer than ${timeoutMs}ms in all`), timeoutMs)
    try {
      return await run.done
    } finally {
      clearTimeout(watchdog)
    }
  } finally {
    await Promise.all(servers.map(stopServer))
    await redis?.stop()
  }
}

async function main(): Promise<number> {
  const args = parseBenchArgs('bench/resume.ts', 'resume.json')
  killServersOnInterrupt()
  const info = machine()
  printMachine('Switchboard resume benchmark', info, args.reps)

  const storms: Record<Setup, LoadReport> = {} as Record<Setup, LoadReport>
  for (const setup of ['one node', 'cluster node'] as const) {
    process.stdout.write(`  storm: ${setup} `)
    storms[setup] = await storm(setup, args.timeoutMs)
    console.log(storms[setup].storm?.made ?? 'no storm made')
  }

  const plain: Measurement = { id: 'plain', label: 'without ids', codec: 'line', load: BROADCAST, command: switchboard('line') }
  const tagged: Measurement = { ...plain, id: 'ids', label: 'CAP ids', load: { ...BROADCAST, resume: true } }
  const { a: plainRates, b: idsRates, ratios: pairs, notes } = await pairedRounds(plain, tagged, args.reps, args.timeoutMs)
  const rates = { plain: plainRates, ids: idsRates }
  const idsShare = median(pairs)

  const stormRows = (['one node', 'cluster node'] as const).map((setup) => {
    const { storm: s, order } = storms[setup]
    if (!s) return [setup, '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-']
    return [
      setup,
      count.format(s.lost),
      count.format(s.resumed),
      count.format(s.unresumed),
      count.format(s.recovered),
      count.format(s.gaps),
      count.format(s.duplicates),
      count.format(s.lostInFlight),
      ms(s.recoverMs.p50),
      ms(s.recoverMs.p99),
      ms(s.recoverMs.max),
      order.rooms === 0 ? 'nothing to compare' : `${order.rooms - order.split}/${order.rooms} rooms`
    ]
  })
  const clusterStorm = storms['cluster node'].storm
  const oneNodeStorm = storms['one node'].storm
  const held =
    clusterStorm !== null &&
    oneNodeStorm !== null &&
    [clusterStorm, oneNodeStorm].every((s) => s.duplicates === 0 && s.unresumed === 0 && s.resumed === s.lost) &&
    clusterStorm.gaps === 0 &&
    oneNodeStorm.gaps === oneNodeStorm.resumed &&
    storms['cluster node'].order.split === 0
  console.log(`
Scenario 1: reconnect storm, ${STORM.clients.toLocaleString('en-US')} resuming clients in rooms of ${STORM.roomSize} at ${STORM.rate} msg/s each; the server (node 1 of 2, in a cluster) killed ${STORM.stormAfterMs / 1000} s into sending and started again
${table(['setup', 'lost', 'resumed', 'not back', 'recovered', 'gaps', 'duplicates', 'lost in flight', 'recover p50 ms', 'p99 ms', 'max ms', 'one order'], stormRows)}
  one node: its history died with it, so every client must be told of a gap (ERR history-gone); a cluster node's
  clients resume from the room streams in Redis: no gap. Lost in flight: sent, never echoed, not kept.
  ${held ? 'HELD' : 'NOT HELD'}: every lost client back, no duplicate, gaps exactly where the history was lost, one order in the cluster

Scenario 2: CAP ids on broadcast, ${describe(BROADCAST)}
${pairedTable('clients', [{ label: 'without ids', rates: rates.plain }, { label: 'CAP ids (tagged MSG)', rates: rates.ids }], 'with ids / without', pairs, TARGET_IDS_SHARE)}
${notes.length > 0 ? `\nnotes:\n${notes.map((note) => `  ${note}`).join('\n')}` : ''}`)

  saveJson(args.json, { machine: info, reps: args.reps, storms, rates, pairs, idsShare })
  return held && pairs.length > 0 ? 0 : 1
}

exitWith(main)
