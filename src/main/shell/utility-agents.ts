import type { UtilityProcess } from 'electron'
import type { AgentLauncher } from '../core/load/agent-process'

/** Electron's utilityProcess, as much of it as starting agents takes (so a test can stand in for it). */
export interface UtilityProcessModule {
  fork(modulePath: string, args?: string[], options?: { serviceName?: string; stdio?: 'inherit' | 'pipe' | 'ignore' }): UtilityProcess
}

/**
 * Load agents as Electron utility processes: Chromium-managed Node processes that need neither the
 * RunAsNode fuse (fork() of a packaged app's binary starts another copy of the app when it is off) nor a
 * Node install. The agent talks over `process.parentPort` (core/load/parent-channel.ts).
 */
export function utilityAgents(utilityProcess: UtilityProcessModule): AgentLauncher {
  return (agentFile, events) => {
    const child = utilityProcess.fork(agentFile, [], { serviceName: 'Switchboard load agent', stdio: 'inherit' })
    let exited = false
    child.on('message', (message) => events.message(message))
    child.on('exit', (code) => {
      exited = true
      events.exit(`code ${code}`)
    })
    child.on('error', (type, location) => events.error(new Error(`${type} at ${location}`)))
    return {
      send: (message) => {
        if (!exited) child.postMessage(message)
      },
      // A utility process has no channel to close: it is ended once its figures are in.
      release: () => child.kill(),
      kill: () => child.kill()
    }
  }
}
