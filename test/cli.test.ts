import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseServeArgs, UsageError } from '../src/main/cli/args'
import { TestClient, waitFor } from './helpers'

const CLI = resolve('out/main/cli.js')

describe('switchboard serve arguments', () => {
  it('defaults to one line listener on 127.0.0.1:7000', () => {
    const args = parseServeArgs([])
    expect(args.server.listeners).toEqual([{ codec: 'line', host: '127.0.0.1', port: 7000 }])
    expect(args.statusMs).toBe(1000)
  })

  it('takes several listeners and the numeric knobs', () => {
    const args = parseServeArgs(['--listen', 'line:7000', '--listen', 'asio:127.0.0.2:7001', '--workers', '0', '--work-us', '200'])
    expect(args.server.listeners).toEqual([
      { codec: 'line', host: '127.0.0.1', port: 7000 },
      { codec: 'asio', host: '127.0.0.2', port: 7001 }
    ])
    expect(args.server.workers).toBe(0)
    expect(args.server.workUs).toBe(200)
  })

  it.each([
    [['--listen', 'http:80'], /bad listener "http:80"/],
    [['--listen', 'line:99999'], /port must be 0-65535/],
    [['--listen', 'line'], /bad listener/],
    [['--workers', 'two'], /--workers takes a whole number/],
    [['--work-us=-5'], /--work-us takes a whole number/],
    [['--max-output', '10'], /--max-output takes a whole number >= 1024/],
    [['--bogus'], /Unknown option '--bogus'/]
  ])('refuses %j', (argv, message) => {
    expect(() => parseServeArgs(argv)).toThrow(UsageError)
    expect(() => parseServeArgs(argv)).toThrow(message)
  })
})

function run(args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
  const exited = once(child, 'exit').then(([code]) => code as number)
  return { child, exited, output: () => ({ stdout, stderr }) }
}

describe('the headless CLI (out/main/cli.js)', () => {
  it('exits 2 with the usage on a bad argument', async () => {
    const cli = run(['serve', '--workers', 'many'])
    expect(await cli.exited).toBe(2)
    expect(cli.output().stderr).toMatch(/--workers takes a whole number[\s\S]*usage: switchboard serve/)
  })

  it('exits 1 with a clear message when the port is taken', async () => {
    const first = run(['serve', '--listen', 'line:0', '--status-ms', '0'])
    await waitFor('the first server', () => /listening on 127\.0\.0\.1:(\d+)/.test(first.output().stdout))
    const port = /listening on 127\.0\.0\.1:(\d+)/.exec(first.output().stdout)![1]
    const second = run(['serve', '--listen', `line:${port}`])
    expect(await second.exited).toBe(1)
    expect(second.output().stderr).toMatch(/cannot start: .*EADDRINUSE/)
    first.child.kill('SIGTERM')
    expect(await first.exited).toBe(0)
  })

  it('serves, prints status lines, and on SIGINT flushes and exits 0', async () => {
    const cli = run(['serve', '--listen', 'line:0', '--listen', 'asio:0', '--status-ms', '100'])
    await waitFor('both listeners', () => /listening on 127\.0\.0\.1:\d+ \(asio\)/.test(cli.output().stdout))
    const port = Number(/listening on 127\.0\.0\.1:(\d+) \(line\)/.exec(cli.output().stdout)![1])
    const c = await TestClient.connect({ port })
    c.send('CHAT over the cli')
    await c.expect(/^MSG lobby guest-\d+ over the cli$/)
    await waitFor('a status line', () => /sessions 1 \| in /.test(cli.output().stdout))
    cli.child.kill('SIGINT')
    await c.expect('BYE server-shutdown')
    await c.closed()
    expect(await cli.exited).toBe(0)
    expect(cli.output().stdout).toMatch(/SIGINT: stopping[\s\S]*stopped/)
  })
})
