import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { ChatClient, type ClientOptions } from '../src/main/core/client/client'
import { ChatServer } from '../src/main/core/server/server'
import type { ServerOptions } from '../src/main/core/server/options'

/** The real piscina worker, as `npm run build` emits it (npm test builds first). */
export const WORKER_FILE = resolve('out/main/logic-worker.js')
/** The real load agent, as built: traffic-lab runs spawn it as a child process. */
export const LOAD_AGENT_FILE = resolve('out/main/load-agent.js')
for (const file of [WORKER_FILE, LOAD_AGENT_FILE]) {
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build first`)
}

/** Every session of `server`, oldest first, as a page the size of all of them. */
export const sessionsOf = (server: ChatServer) => server.sessionPage({ sort: 'age', filter: '', offset: 0, limit: Number.MAX_SAFE_INTEGER }).rows

export async function startServer(options: Partial<ServerOptions> = {}): Promise<{ server: ChatServer; port: number }> {
  const server = new ChatServer({
    listeners: [{ codec: 'line', host: '127.0.0.1', port: 0 }],
    workerFile: WORKER_FILE,
    workers: 2,
    shutdownDeadlineMs: 2000,
    ...options
  })
  const [first] = await server.start()
  return { server, port: first.port }
}

/** A client that keeps every frame it got, so a test can wait for the one it expects. */
export class TestClient {
  readonly lines: string[] = []
  closedWith: string | null = null
  private waiters: (() => void)[] = []

  private constructor(readonly client: ChatClient) {
    client.on('line', (line) => {
      this.lines.push(line)
      this.wake()
    })
    client.on('close', (reason) => {
      this.closedWith = reason
      this.wake()
    })
  }

  static async connect(options: ClientOptions): Promise<TestClient> {
    return new TestClient(await ChatClient.connect(options))
  }

  send(text: string | Buffer): void {
    this.client.send(text)
  }

  /** Waits until `predicate` holds on what was received; fails with what did arrive if it never does. */
  async until(what: string, predicate: (lines: string[]) => boolean, timeoutMs = 5000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs
    while (!predicate(this.lines)) {
      const left = deadline - Date.now()
      if (left <= 0) {
        const got = this.lines.slice(-10).map((line) => (line.length > 80 ? `${line.slice(0, 80)}...` : line))
        throw new Error(`timed out waiting for ${what}; last lines: ${JSON.stringify(got)}`)
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    return this.lines
  }

  /** Waits for a line matching `pattern` and returns it. */
  async expect(pattern: RegExp | string, timeoutMs?: number): Promise<string> {
    const matches = (line: string) => (typeof pattern === 'string' ? line === pattern : pattern.test(line))
    await this.until(String(pattern), (lines) => lines.some(matches), timeoutMs)
    const index = this.lines.findIndex(matches)
    return this.lines.splice(0, index + 1).pop()!
  }

  async closed(timeoutMs = 5000): Promise<string> {
    await this.until('the connection to close', () => this.closedWith !== null, timeoutMs)
    return this.closedWith!
  }

  close(): Promise<void> {
    return this.client.close()
  }

  private wake(): void {
    this.waiters.splice(0).forEach((wake) => wake())
  }
}

/** A line client that has read its WELCOME; returns its nick too. */
export async function joinLine(port: number): Promise<{ c: TestClient; nick: string; id: number }> {
  const c = await TestClient.connect({ port })
  const welcome = await c.expect(/^WELCOME /)
  const [, id, nick] = welcome.split(' ')
  await c.expect(`JOINED lobby ${nick}`)
  return { c, nick, id: Number(id) }
}

/** Polls `predicate` until it holds; for conditions no event announces, such as a child's output. */
export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
