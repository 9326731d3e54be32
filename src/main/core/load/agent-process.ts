import { fork } from 'node:child_process'
import type { FromAgent, ToAgent } from './messages'

/** What the coordinator hears from an agent process. */
export interface AgentEvents {
  message(message: FromAgent): void
  /** The process is gone; `how` says why (an exit code or a signal). */
  exit(how: string): void
  error(error: Error): void
}

/** One load agent process, as the coordinator drives it, whatever started it. */
export interface AgentProcess {
  send(message: ToAgent): void
  /** The run is done with it: it leaves (its final figures are in). */
  release(): void
  /** It did not hand in its figures in time. */
  kill(): void
}

/**
 * Starts an agent process running `agentFile`. Under Node that is child_process.fork; under Electron the
 * shell passes one built on utilityProcess.fork (src/main/shell/utility-agents.ts), since forking the app's
 * own binary works only while Electron's RunAsNode fuse is on, and packaged apps often turn it off.
 */
export type AgentLauncher = (agentFile: string, events: AgentEvents) => AgentProcess

export const forkAgent: AgentLauncher = (agentFile, events) => {
  const child = fork(agentFile, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  child.on('message', (message: FromAgent) => events.message(message))
  child.on('exit', (code, signal) => events.exit(signal ?? `code ${code}`))
  child.on('error', (error) => events.error(error))
  return {
    send: (message) => {
      if (child.connected) child.send(message)
    },
    // The agent leaves when its channel closes.
    release: () => child.connected && child.disconnect(),
    kill: () => child.kill('SIGKILL')
  }
}
