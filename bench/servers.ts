// The servers a bench measures: each run gets a fresh one, on a free loopback port, stopped after it.
import { spawn, type ChildProcess } from 'node:child_process'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { CLI } from './paths'

export interface Server {
  child: ChildProcess
  output: string
}

/** Servers running now: an interrupted bench must not leave them behind (agents leave with their coordinator). */
const children = new Set<ChildProcess>()

/** On SIGINT or SIGTERM, kills the servers still running before exiting. */
export function killServersOnInterrupt(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of children) child.kill('SIGKILL')
      process.exit(130)
    })
  }
}

export function startServer(command: string, argv: string[]): Server {
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  child.once('exit', () => children.delete(child))
  const server: Server = { child, output: '' }
  const keep = (chunk: Buffer) => {
    server.output = (server.output + chunk.toString('utf8')).slice(-4000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  return server
}

/** Resolves once the server accepts a connection on 127.0.0.1:port. */
export async function whenAccepting(server: Server, port: number): Promise<void> {
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`server exited before accepting:\n${server.output}`)
    }
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port })
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (accepted) return
    await sleep(25)
  }
  throw new Error(`server did not accept on 127.0.0.1:${port} within 15s:\n${server.output}`)
}

export async function stopServer(server: Server): Promise<void> {
  const { child } = server
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

/** Switchboard's server on one listener, with no status lines to drain. */
export function switchboard(listen: 'line' | 'asio' | 'tls+line' | 'tls+asio', extra: string[] = []): (port: number) => [string, string[]] {
  return (port) => [process.execPath, [CLI, 'serve', '--listen', `${listen}:${port}`, '--status-ms', '0', ...extra]]
}

/** Asio's chat_server binds every interface on the port it is given; only 127.0.0.1 is ever dialled. */
export function asioChatServer(binary: string): (port: number) => [string, string[]] {
  return (port) => [binary, [String(port)]]
}
