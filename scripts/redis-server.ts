import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './asio-reference'

/**
 * A real redis-server (Debian's) of a test's or a benchmark's own: a free loopback port and a temporary
 * directory, with the append-only file on, so a restart keeps the streams as a production Redis with
 * persistence would.
 */
export class RedisServer {
  private process: ChildProcess | null = null
  private readonly dir = mkdtempSync(join(tmpdir(), 'sb-redis-'))

  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const redis = new RedisServer(await freePort())
    await redis.spawn()
    return redis
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  private spawn(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'], {
      stdio: ['ignore', 'pipe', 'pipe']
    })
    this.process = child
    return new Promise((resolve, reject) => {
      let output = ''
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('Ready to accept connections')) resolve()
      })
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output.slice(-500)}`)))
    })
  }

  /** Stops it as an operator would (SIGTERM: it finishes what it has and writes its files), then starts it again. */
  async restart(downMs = 0): Promise<void> {
    await this.stopProcess()
    await new Promise((resolve) => setTimeout(resolve, downMs))
    await this.spawn()
  }

  private async stopProcess(): Promise<void> {
    const child = this.process
    if (!child || child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
    this.process = null
  }

  async stop(): Promise<void> {
    await this.stopProcess()
    rmSync(this.dir, { recursive: true, force: true })
  }
}
