// Cluster benchmark: what sharing rooms through Redis costs, measured against one node alone in the same run.
//   npm run bench:cluster                 (builds, then runs this with tsx)
//   npx tsx bench/cluster.ts --reps 3     (after `npm run build`)
// 1. Throughput: 200 line clients x 40 messages x 64 B, window 8, one room. One node alone, then two nodes
//    and a Redis with the clients split over them, alternating, each run on fresh processes. Every message
//    must reach every member in one order (the load engine's order digests); the cluster should keep at
//    least 40 % of the single node's deliveries/s here, where two nodes and Redis share the machine's cores,
//    and spend at most 1.3 times its CPU per delivery (process CPU time of the nodes and Redis).
// 2. Latency at a fixed rate through the cluster (and through one node, for comparison): p50 and p99.
import { freePort } from '../scripts/asio-reference'
import { RedisServer } from '../scripts/redis-server'
import { resolveLoadConfig } from '../src/main/core/load'
import type { LoadReport } from '../src/shared/load'
import { parseBenchArgs } from './args'
import { runMeasured } from './measurement'
import { count, machine, median, ms, printMachine, saveJson, table, verdict } from './report'
import { processTicks, ticksToMs } from './quiet-machine'
import { killServersOnInterrupt, startServer, stopServer, switchboard, whenAccepting, type Server } from './servers'
import { exitWith } from './suite'

const THROUGHPUT = { clients: 200, messages: 40, size: 64, window: 8, agents: 2 }
/** 200 clients at 2 messages/s each: 400 messages/s, 80,000 deliveries/s, well inside either setup's capacity. */
const FIXED_RATE = { clients: 200, mode: 'open' as const, rate: 2, durationMs: 10_000, size: 64, agents: 2 }
const TARGET_SHARE = 0.4
/** The cluster's CPU (both nodes and Redis, process CPU time) per delivery, at most this times one node's. */
const TARGET_CPU_RATIO = 1.3

type Setup = 'single' | 'cluster'

/**
 * A run's report, and the CPU time its servers (and Redis) spent on it: in all, and from when every client
 * was in and sending began (what the messages cost, without the connecting and joining before them).
 */
interface Run {
  report: LoadReport
  cpuMs: number
  sendingCpuMs: number
}

/** Starts the setup's servers (and Redis), runs `load` through them, and stops them all. */
async function run(setup: Setup, load: object, timeoutMs: number): Promise<Run> {
  const redis = setup === 'cluster' ? await RedisServer.start() : null
  const servers: Server[] = []
  try {
    const ports = setup === 'cluster' ? [await freePort(), await freePort()] : [await freePort()]
    for (const [i, port] of ports.entries()) {
      const cluster = redis ? ['--cluster', redis.url, '--node-id', `bench-${i + 1}`] : []
      const server = startServer(...switchboard('line', cluster)(port))
      servers.push(server)
      await whenAccepting(server, port)
    }
    const targets = ports.map((port) => ({ host: '127.0.0.1', port }))
    const pids = [...servers.map((server) => server.child.pid), redis?.pid].filter((pid): pid is number => pid !== undefined)
    const cpu = (): number => pids.reduce((sum: number, pid) => sum + (processTicks(pid) ?? NaN), 0)
    const before = cpu()
    let sendingFrom: number | null = null
    const report = await runMeasured(resolveLoadConfig({ ...load, targets, codec: 'line', timeoutMs }), timeoutMs, (progress) => {
      if (sendingFrom === null && progress.phase === 'sending') sendingFrom = cpu()
    })
    const after = cpu()
    return { report, cpuMs: ticksToMs(after - before), sendingCpuMs: sendingFrom === null ? NaN : ticksToMs(after - sendingFrom) }
  } finally {
    await Promise.all(servers.map(stopServer))
    await redis?.stop()
  }
}

const oneOrder = (r: LoadReport) => r.complete && r.order.split === 0

async function main(): Promise<number> {
  const args = parseBenchArgs('bench/cluster.ts', 'cluster.json')
  killServersOnInterrupt()
  const info = machine()
  printMachine('Switchboard cluster benchmark', info, args.reps)

  const throughput: Record<Setup, LoadReport[]> = { single: [], cluster: [] }
  /** Server (and Redis) CPU microseconds per delivery, per run: over the whole run, and over its messages. */
  const cpuPerDelivery: Record<Setup, number[]> = { single: [], cluster: [] }
  const sendingCpuPerDelivery: Record<Setup, number[]> = { single: [], cluster: [] }
  for (let round = 0; round < args.reps; round++) {
    // Alternate which goes first, so a machine that slows down (or warms up) over the run favours neither.
    const order: Setup[] = round % 2 === 0 ? ['single', 'cluster'] : ['cluster', 'single']
    for (const setup of order) {
      process.stdout.write(`  round ${round + 1}/${args.reps}: ${setup} `)
      const { report, cpuMs, sendingCpuMs } = await run(setup, THROUGHPUT, args.timeoutMs)
      throughput[setup].push(report)
      cpuPerDelivery[setup].push((cpuMs * 1000) / Math.max(1, report.deliveries))
      sendingCpuPerDelivery[setup].push((sendingCpuMs * 1000) / Math.max(1, report.deliveries))
      console.log(
        `${oneOrder(report) ? 'complete, one order' : `INCOMPLETE (${report.note ?? `${report.deliveries}/${report.expected}, split rooms ${report.order.split}`})`}, ${count.format(report.deliveriesPerSec)} deliv/s, ${(cpuMs / 1000).toFixed(2)} CPU s (${(sendingCpuMs / 1000).toFixed(2)} s sending)`
      )
    }
  }
  const fixed: Record<Setup, LoadReport> = {
    single: (await run('single', FIXED_RATE, args.timeoutMs)).report,
    cluster: (await run('cluster', FIXED_RATE, args.timeoutMs)).report
  }

  const medianRate = (setup: Setup) => median(throughput[setup].map((r) => r.deliveriesPerSec))
  const share = medianRate('cluster') / medianRate('single')
  const medianCpu = (setup: Setup) => median(cpuPerDelivery[setup])
  const medianSendingCpu = (setup: Setup) => median(sendingCpuPerDelivery[setup])
  const cpuRatio = medianSendingCpu('cluster') / medianSendingCpu('single')
  const wholeRunCpuRatio = medianCpu('cluster') / medianCpu('single')
  const allOneOrder = [...throughput.single, ...throughput.cluster, fixed.single, fixed.cluster].every(oneOrder)
  const describe = (setup: Setup) => (setup === 'single' ? '1 node' : '2 nodes + Redis')
  console.log(`
Throughput: ${THROUGHPUT.clients} line clients in one room x ${THROUGHPUT.messages} messages x ${THROUGHPUT.size} B, window ${THROUGHPUT.window}, ${THROUGHPUT.agents} agents
${table(
  ['setup', 'runs one order', 'median deliv/s', 'CPU us/delivery sending', 'in all', 'median latency p50 ms', 'median latency p99 ms'],
  (['single', 'cluster'] as const).map((setup) => [
    describe(setup),
    `${throughput[setup].filter(oneOrder).length}/${throughput[setup].length}`,
    count.format(medianRate(setup)),
    medianSendingCpu(setup).toFixed(3),
    medianCpu(setup).toFixed(3),
    ms(median(throughput[setup].map((r) => r.latencyMs.p50))),
    ms(median(throughput[setup].map((r) => r.latencyMs.p99)))
  ])
)}
${verdict('cluster deliv/s as a share of one node', share, `>= ${TARGET_SHARE}, every run one order`, share >= TARGET_SHARE && allOneOrder)}
${verdict('cluster CPU per delivery (nodes + Redis, sending) over one node', cpuRatio, `<= ${TARGET_CPU_RATIO}`, cpuRatio <= TARGET_CPU_RATIO)}
  (over the whole run, connecting and joining 200 clients included: ${wholeRunCpuRatio.toFixed(2)})
  (two nodes, Redis and the load generator share this machine's cores: see docs/CLUSTER.md for N machines)

Fixed rate: ${FIXED_RATE.clients} clients x ${FIXED_RATE.rate} messages/s for ${FIXED_RATE.durationMs / 1000} s (${count.format(FIXED_RATE.clients * FIXED_RATE.rate)} messages/s into one room)
${table(
  ['setup', 'one order', 'latency p50 ms', 'latency p99 ms', 'latency max ms'],
  (['single', 'cluster'] as const).map((setup) => [describe(setup), oneOrder(fixed[setup]) ? 'yes' : 'NO', ms(fixed[setup].latencyMs.p50), ms(fixed[setup].latencyMs.p99), ms(fixed[setup].latencyMs.max)])
)}`)

  saveJson(args.json, { machine: info, reps: args.reps, throughput, cpuPerDelivery, sendingCpuPerDelivery, cpuRatio, wholeRunCpuRatio, fixed, share })
  return allOneOrder ? 0 : 1
}

exitWith(main)
