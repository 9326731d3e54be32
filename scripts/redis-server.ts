import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
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

  private constructor(
    readonly port: number,
    private readonly extraArgs: string[]
  ) {}

  /** `extraArgs`: more redis-server options, e.g. `--cluster-enabled yes`. */
  static async start(extraArgs: string[] = []): Promise<RedisServer> {
    const redis = new RedisServer(await freePort(), extraArgs)
    await redis.spawn()
    return redis
  }

  /** Its process id while it runs (for CPU accounting). */
  get pid(): number | undefined {
    return this.process?.pid
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  private spawn(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', ...this.extraArgs], {
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

  /** Freezes it (SIGSTOP): connections stay open and nothing is answered, as in a long stall. */
  pause(): void {
    this.process?.kill('SIGSTOP')
  }

  resume(): void {
    this.process?.kill('SIGCONT')
  }

  /** Kills it and starts an empty one on the same port, as a Redis without persistence restarts. */
  async restartEmpty(downMs = 0): Promise<void> {
    const child = this.process
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
    this.process = null
    rmSync(this.dir, { recursive: true, force: true })
    mkdirSync(this.dir)
    await new Promise((resolve) => setTimeout(resolve, downMs))
    await this.spawn()
  }

  private async stopProcess(): Promise<void> {
    const child = this.process
    if (!child || child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    // A paused one would keep SIGTERM pending for ever.
    child.kill('SIGCONT')
    child.kill('SIGTERM')
    await exited
    this.process = null
  }

  async stop(): Promise<void> {
    await this.stopProcess()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/**
 * A Redis Cluster of `masters` redis-servers of its own (no replicas), its 16,384 slots spread over them by
 * redis-cli, as an operator would create one; resolves once every master says the cluster is ok.
 */
export class RedisCluster {
  private constructor(readonly masters: RedisServer[]) {}

  static async start(masters = 3): Promise<RedisCluster> {
    const servers = await Promise.all(Array.from({ length: masters }, () => RedisServer.start(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'])))
    const cluster = new RedisCluster(servers)
    try {
      await run('redis-cli', ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', '0', '--cluster-yes'])
      for (const server of servers) {
        while (!(await run('redis-cli', ['-p', String(server.port), 'cluster', 'info'])).includes('cluster_state:ok')) {
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      }
    } catch (error) {
      await cluster.stop()
      throw error
    }
    return cluster
  }

  async stop(): Promise<void> {
    await Promise.all(this.masters.map((server) => server.stop()))
  }
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk))
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${output.slice(-500)}`))))
  })
}
