// Entry of a load agent process (out/main/load-agent.js), started by the coordinator (a Node fork, or an
// Electron utility process): it runs one share of a run's clients, so the generator never shares an event
// loop (or a core) with the server it measures, and can be spread over several processes. No Electron import.
import { AgentRun } from './agent-run'
import { encodeHistogram } from './histogram'
import type { ToAgent } from './messages'
import { connectToParent } from './parent-channel'

const PROGRESS_MS = 250

const parent = connectToParent()
if (!parent) {
  console.error('load-agent: run by the load coordinator (switchboard load ...), not on its own')
  process.exit(2)
}
const { send } = parent
let run: AgentRun | null = null
let progressTimer: NodeJS.Timeout | null = null
let cpuAtStart = process.cpuUsage()
let wallAtStart = performance.now()

function report(): void {
  if (!run) return
  send({ type: 'progress', counters: run.counters, latency: encodeHistogram(run.interval) })
  run.interval.reset()
}

parent.onMessage((message: ToAgent) => {
  switch (message.type) {
    case 'start':
      cpuAtStart = process.cpuUsage()
      wallAtStart = performance.now()
      run = new AgentRun(message.config, message.first, message.count, message.nonce, {
        connected: (failed) => send({ type: 'connected', failed }),
        ready: (members) => send({ type: 'ready', members })
      })
      run.connectAll()
      progressTimer = setInterval(report, PROGRESS_MS)
      return
    case 'sync':
      return run?.sendSync()
    case 'go':
      return run?.go(message.members)
    case 'stop':
      return run?.stop()
    case 'storm':
      return run?.storm()
    case 'finish': {
      if (!run) return
      if (progressTimer) clearInterval(progressTimer)
      run.finish()
      const cpu = process.cpuUsage(cpuAtStart)
      const wallMs = performance.now() - wallAtStart
      // The coordinator releases this process once it has these.
      send({
        type: 'final',
        counters: run.counters,
        latency: encodeHistogram(run.total),
        connect: encodeHistogram(run.connectTimes),
        handshake: encodeHistogram(run.handshakeTimes),
        recover: encodeHistogram(run.recoverTimes),
        errors: run.errors,
        orders: run.orders(),
        targets: run.targets(),
        cpu: wallMs > 0 ? Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 1000) / 1000 : 0
      })
      return
    }
  }
})
