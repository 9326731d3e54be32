import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseServeArgs, UsageError } from '../src/main/cli/args'
import { formatReport } from '../src/main/cli/load'
import { parseLoadArgs } from '../src/main/cli/load-args'
import { StatusLine } from '../src/main/cli/status'
import { DEFAULTS } from '../src/main/core/server/options'
import { CLUSTER_TUNING } from '../src/main/core/cluster/cluster-chat'
import { DEFAULT_LIMITS } from '../src/shared/contract'
import { freePort } from '../scripts/asio-reference'
import { RedisServer } from '../scripts/redis-server'
import { joinLine, TestClient, waitFor } from './helpers'
import { loadReport, snapshot, stormReport } from './telemetry-fixtures'

const CLI = resolve('out/main/cli.js')

describe('switchboard serve arguments', () => {
  it('defaults to one line listener on 127.0.0.1:7000', () => {
    const args = parseServeArgs([])
    expect(args.config.listeners).toEqual([{ codec: 'line', host: '127.0.0.1', port: 7000 }])
    expect(args.statusMs).toBe(1000)
    expect(args.configFlagged).toBe(false)
    expect(args.settingsFile).toBeNull()
  })

  it('takes several listeners and the numeric knobs', () => {
    const args = parseServeArgs(['--listen', 'line:7000', '--listen', 'asio:127.0.0.2:7001', '--workers', '0', '--work-us', '200'])
    expect(args.config.listeners).toEqual([
      { codec: 'line', host: '127.0.0.1', port: 7000 },
      { codec: 'asio', host: '127.0.0.2', port: 7001 }
    ])
    expect(args.config.workers).toBe(0)
    expect(args.config.workUs).toBe(200)
    expect(args.configFlagged).toBe(true)
  })

  it('takes the limits into the config the control room also edits, timeouts in seconds', () => {
    const args = parseServeArgs(['--presence-limit', '50', '--idle-timeout', '60', '--partial-timeout', '0', '--max-rate', '0', '--rate-burst', '20', '--batch-timeout', '500'])
    expect(args.config.limits).toEqual({ ...DEFAULT_LIMITS, presenceLimit: 50, idleTimeoutMs: 60_000, partialTimeoutMs: 0, maxRate: 0, rateBurst: 20 })
    expect(args.serverDefaults).toEqual({ batchTimeoutMs: 500, tlsHandshakesPerTurn: 4 })
    expect(args.configFlagged).toBe(true)
    const sizes = parseServeArgs(['--max-line', '512', '--max-sessions', '3', '--max-output', '2048', '--soft-output', '1024', '--soft-output-time', '2', '--max-total-output', '4096'])
    expect(sizes.config.limits).toMatchObject({ maxLineBytes: 512, maxSessions: 3, maxOutputBytes: 2048, softOutputBytes: 1024, softOutputMs: 2000, maxTotalOutputBytes: 4096 })
    expect(() => parseServeArgs(['--max-total-output', '0'])).toThrow(/--max-total-output takes a whole number >= 1/)
    expect(parseServeArgs([]).config.limits).toEqual(DEFAULT_LIMITS)
    // Not part of the config: a kept config still applies.
    expect(parseServeArgs(['--batch-timeout', '500', '--status-ms', '0']).configFlagged).toBe(false)
  })

  it('lets the control room reach beyond this server only as far as the flags say', () => {
    expect(parseServeArgs([]).reach).toEqual({ allowRemote: false, targets: [], redis: null })
    expect(parseServeArgs(['--cluster', 'redis://127.0.0.1:6379']).reach.redis).toBe('redis://127.0.0.1:6379')
    const wide = parseServeArgs(['--allow-remote', '--allow-target', '127.0.0.1:7100,[::1]:7200', '--allow-target', 'localhost:7300'])
    expect(wide.reach).toEqual({
      allowRemote: true,
      redis: null,
      targets: [
        { host: '127.0.0.1', port: 7100 },
        { host: '::1', port: 7200 },
        { host: 'localhost', port: 7300 }
      ]
    })
    expect(() => parseServeArgs(['--allow-target', '7100'])).toThrow(/--allow-target takes host:port \(\[::1\]:7000 for IPv6\), not "7100"/)
  })

  it('keeps settings in a file only for the browser control room', () => {
    expect(parseServeArgs(['--web', '0', '--settings', '/tmp/s.json']).settingsFile).toBe('/tmp/s.json')
    expect(() => parseServeArgs(['--settings', '/tmp/s.json'])).toThrow(/--settings keeps what the browser control room sets: give --web too/)
  })

  it('joins a cluster with --cluster, named by --node-id or by this machine and the first port', () => {
    expect(parseServeArgs([]).config.cluster).toBeNull()
    const named = parseServeArgs(['--cluster', 'redis://127.0.0.1:6379', '--node-id', 'east-1'])
    expect(named.config.cluster).toEqual({ redis: 'redis://127.0.0.1:6379', nodeId: 'east-1' })
    const unnamed = parseServeArgs(['--listen', 'line:7100', '--cluster', 'redis://127.0.0.1:6379/2'])
    expect(unnamed.config.cluster!.nodeId).toMatch(/^[A-Za-z0-9_-]+-7100$/)
    expect(unnamed.clusterTuning).toEqual(CLUSTER_TUNING)
    expect(parseServeArgs(['--cluster', 'redis://127.0.0.1:6379', '--room-ttl', '5']).clusterTuning).toEqual({ ...CLUSTER_TUNING, emptyRoomTtlS: 5 })
    expect(parseServeArgs(['--cluster', 'redis://127.0.0.1:6379', '--lease-ms', '1500']).clusterTuning).toEqual({ ...CLUSTER_TUNING, leaseMs: 1500 })
    expect(parseServeArgs(['--cluster', 'redis://127.0.0.1:6379', '--redis-backlog-mb', '8']).clusterTuning).toEqual({ ...CLUSTER_TUNING, backlogBytes: 8 * 2 ** 20 })
  })

  it('keeps the credentials of --cluster out of the config, the reach and everything shown', () => {
    const args = parseServeArgs(['--cluster', 'rediss://alice:s3cret@127.0.0.1:6380/1'])
    expect(args.config.cluster!.redis).toBe('rediss://127.0.0.1:6380/1')
    expect(args.reach.redis).toBe('rediss://127.0.0.1:6380/1')
    expect(args.redisAccess).toEqual({ address: 'rediss://127.0.0.1:6380/1', username: 'alice', password: 's3cret' })
    expect(JSON.stringify({ ...args, redisAccess: null })).not.toContain('s3cret')
    expect(parseServeArgs(['--users', 'users.txt']).serverDefaults.usersFile).toBe('users.txt')
  })

  it.each([
    [['--node-id', 'a'], /--node-id names a node of a cluster: give --cluster too/],
    [['--room-ttl', '5'], /--room-ttl tunes a node of a cluster: give --cluster too/],
    [['--cluster', 'redis://127.0.0.1:6379', '--room-ttl', '0'], /--room-ttl takes a whole number >= 1/],
    [['--lease-ms', '5000'], /--lease-ms tunes a node of a cluster: give --cluster too/],
    [['--cluster', 'redis://127.0.0.1:6379', '--lease-ms', '100'], /--lease-ms takes a whole number >= 500/],
    [['--cluster', 'http://127.0.0.1:6379'], /--cluster: a Redis URL is redis:\/\/host:port or rediss:\/\/host:port/],
    [['--cluster', 'redis://user:secret@127.0.0.1'], /--cluster: redis:\/\/127.0.0.1 is not redis\[s\]:\/\/host:port/],
    [['--cluster', 'redis://127.0.0.1:6379', '--redis-ca', 'ca.pem'], /--redis-ca goes with --cluster rediss:/],
    [['--cluster', 'redis://127.0.0.1:6379', '--node-id', 'a/b'], /cluster.nodeId: expected 1 to 32 of A-Z a-z 0-9 _ -, got "a\/b"/],
    [['--listen', 'http:80'], /bad listener "http:80"/],
    [['--listen', 'line:99999'], /port must be 0-65535/],
    [['--listen', 'line'], /bad listener/],
    [['--workers', 'two'], /--workers takes a whole number/],
    [['--work-us=-5'], /--work-us takes a whole number/],
    [['--workers', '100'], /workers: expected a whole number from 0 to 64, got 100/],
    [['--bogus'], /Unknown option '--bogus'/]
  ])('refuses %j', (argv, message) => {
    expect(() => parseServeArgs(argv)).toThrow(UsageError)
    expect(() => parseServeArgs(argv)).toThrow(message)
  })
})

describe('the status line', () => {
  it('says the worst queue peak and lag of the snapshots it skipped, and starts over after each line', () => {
    const status = new StatusLine(1000)
    const lags = [[1, 2], [40, 95], [3, 4], [2, 3], [1, 1]]
    const lines = lags.map(([p99, max], i) => status.take(snapshot(1000 + i * 250, { totals: { eventLoopLagP99Ms: p99, eventLoopLagMaxMs: max, logicQueuePeak: i === 1 ? 700 : 5 } })))
    expect(lines.slice(0, 4)).toEqual([expect.stringContaining('lag p99 1.00ms max 2.00ms'), null, null, null])
    expect(lines[4]).toContain('lag p99 40ms max 95ms')
    expect(lines[4]).toContain('peak 700')
    expect(status.take(snapshot(3000, { totals: { eventLoopLagP99Ms: 2, eventLoopLagMaxMs: 3 } }))).toContain('lag p99 2.00ms max 3.00ms')
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
  it.each([[[]], [['-h']], [['--help']], [['help']]])('answers %j with the usage of every command, exit 0, and starts no server', async (argv) => {
    const cli = run(argv)
    expect(await cli.exited).toBe(0)
    const { stdout } = cli.output()
    expect(stdout).toMatch(/^usage: switchboard <command>/)
    for (const command of ['serve', 'load', 'help']) expect(stdout).toMatch(new RegExp(`^  ${command} `, 'm'))
    expect(stdout).not.toContain('listening on')
  })

  it('answers --version with the package version, exit 0', async () => {
    const cli = run(['--version'])
    expect(await cli.exited).toBe(0)
    expect(cli.output().stdout.trim()).toBe(`switchboard ${JSON.parse(readFileSync('package.json', 'utf8')).version}`)
  })

  it('says a failure in one line: no stack, no file of ours', async () => {
    const port = await freePort()
    const cli = run(['load', '--port', String(port), '--clients', '1', '--messages', '1', '--size', '24', '--json', '/nonexistent-dir/report.json'])
    expect(await cli.exited).toBe(1)
    const { stderr } = cli.output()
    expect(stderr).toMatch(/^switchboard: .*\/nonexistent-dir\/report\.json/)
    expect(stderr).not.toMatch(/\n\s+at |out\/main|node:internal/)
  })

  it('answers npm run serve -- --help without building, even when the build is out of date', async () => {
    const built = statSync(CLI).mtimeMs
    // A source newer than the build: anything but a request for help would build first.
    const source = 'src/main/cli/args.ts'
    const { atime, mtime } = statSync(source)
    utimesSync(source, atime, new Date(Date.now() + 3_600_000))
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/cli.ts', 'serve', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
      const [code] = await once(child, 'exit')
      expect(code).toBe(0)
      expect(stdout).toMatch(/^usage: switchboard serve/)
    } finally {
      utimesSync(source, atime, mtime)
    }
    expect(statSync(CLI).mtimeMs).toBe(built)
    expect(JSON.parse(readFileSync('package.json', 'utf8')).scripts.serve).toBe('tsx scripts/cli.ts serve')
  })

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

  it('binds beyond loopback only with --allow-remote', async () => {
    const cli = run(['serve', '--listen', 'line:0.0.0.0:0', '--status-ms', '0'])
    expect(await cli.exited).toBe(1)
    expect(cli.output().stderr).toContain('switchboard: cannot start: a listener on 0.0.0.0:0 is beyond loopback: only the process may allow that (switchboard serve --allow-remote)')
    expect(cli.output().stdout).not.toContain('listening on')
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

  it('serves as a node of a cluster, says so on its status line, and exits 1 when Redis is not there', async () => {
    const redis = await RedisServer.start()
    try {
      const cli = run(['serve', '--listen', 'line:0', '--status-ms', '100', '--cluster', redis.url, '--node-id', 'cli-node'])
      await waitFor('a cluster status line', () => /\| cluster cli-node: 1 nodes stream lag /.test(cli.output().stdout))
      cli.child.kill('SIGTERM')
      expect(await cli.exited).toBe(0)
    } finally {
      await redis.stop()
    }
    const orphan = run(['serve', '--listen', 'line:0', '--cluster', redis.url])
    expect(await orphan.exited).toBe(1)
    expect(orphan.output().stderr).toMatch(/cannot start: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/)
  })
})

describe('switchboard serve --web --settings (out/main/cli.js)', () => {
  const settingsFile = () => join(mkdtempSync(join(tmpdir(), 'switchboard-')), 'settings.json')
  const stop = async (cli: ReturnType<typeof run>) => {
    cli.child.kill('SIGTERM')
    expect(await cli.exited).toBe(0)
  }

  it('starts from the kept config without config flags, from the flags with them, and keeps what it started', async () => {
    const path = settingsFile()
    const port = await freePort()
    const server = { listeners: [{ codec: 'line', host: '127.0.0.1', port }], workers: 0, workUs: 0, cluster: null, limits: { ...DEFAULT_LIMITS, maxSessions: 1 } }
    writeFileSync(path, JSON.stringify({ version: 1, server, load: null }))

    const kept = run(['serve', '--web', '0', '--settings', path, '--status-ms', '0'])
    await waitFor('the control room', () => /control room at http/.test(kept.output().stdout))
    expect(kept.output().stdout).toContain(`starting with the server config kept in ${path}`)
    expect(kept.output().stdout).toContain(`listening on 127.0.0.1:${port} (line)`)
    // The kept limit holds: one session, and the next is refused.
    const first = await joinLine(port)
    const second = await TestClient.connect({ port })
    await second.expect(/^ERR server-full /)
    await Promise.all([first.c.close(), second.close()])
    await stop(kept)

    const flagged = run(['serve', '--web', '0', '--settings', path, '--listen', 'line:0', '--status-ms', '0'])
    await waitFor('the control room', () => /control room at http/.test(flagged.output().stdout))
    expect(flagged.output().stdout).not.toContain('starting with the server config kept')
    expect(flagged.output().stdout).not.toContain(`listening on 127.0.0.1:${port} `)
    await stop(flagged)
    expect(JSON.parse(readFileSync(path, 'utf8')).server).toEqual({ ...server, listeners: [{ codec: 'line', host: '127.0.0.1', port: 0 }], workers: DEFAULTS.workers, limits: DEFAULT_LIMITS })
  })

  it('takes the access token from --token-file, for the control room and for a Prometheus scrape', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-'))
    const tokenFile = join(dir, 'token')
    writeFileSync(tokenFile, 'scrape-me-0123456789\n')
    const cli = run(['serve', '--web', '0', '--token-file', tokenFile, '--listen', 'line:0', '--status-ms', '0'])
    await waitFor('the control room', () => /control room at http/.test(cli.output().stdout))
    const url = new URL(/control room at (\S+)/.exec(cli.output().stdout)![1])
    expect(url.searchParams.get('token')).toBe('scrape-me-0123456789')
    const scrape = (token: string) => fetch(new URL('/metrics', url), { headers: { Authorization: `Bearer ${token}` } })
    expect((await scrape('scrape-me-0123456789')).status).toBe(200)
    expect((await scrape('something-else-012345')).status).toBe(401)
    await stop(cli)

    writeFileSync(tokenFile, 'short\n')
    const refused = run(['serve', '--web', '0', '--token-file', tokenFile, '--listen', 'line:0', '--status-ms', '0'])
    expect(await refused.exited).toBe(1)
    expect(refused.output().stderr).toContain(`the token in ${tokenFile} must be 16 or more characters`)
    expect(() => parseServeArgs(['--token-file', tokenFile])).toThrow(/--token-file .* give --web too/)
  })

  it('says a settings file could not be used, keeps it as FILE.bad, and serves all the same', async () => {
    const path = settingsFile()
    writeFileSync(path, '{"version": 1, "server":')
    const cli = run(['serve', '--web', '0', '--settings', path, '--listen', 'line:0', '--status-ms', '0'])
    await waitFor('the control room', () => /control room at http/.test(cli.output().stdout))
    // Said once, as an error of the log (the console is a peer of the host like a window).
    await waitFor('the problem said', () => cli.output().stdout.includes(`error settings file ${path} could not be used (not JSON: `))
    expect(cli.output().stdout.split('could not be used')).toHaveLength(2)
    expect(readFileSync(`${path}.bad`, 'utf8')).toBe('{"version": 1, "server":')
    await stop(cli)
    expect(existsSync(path)).toBe(true)
  })
})

describe('switchboard load arguments', () => {
  it('builds a run from the flags: a rate means an open loop, a duration alone means no message count', () => {
    const { config, search } = parseLoadArgs(['--port', '7001', '--codec', 'asio', '--clients', '300', '--rate', '20', '--duration', '2.5', '--agents', '2'])
    expect(config).toMatchObject({ targets: [{ host: '127.0.0.1', port: 7001 }], codec: 'asio', clients: 300, mode: 'open', rate: 20, messages: 0, durationMs: 2500, agents: 2 })
    expect(search).toBeNull()
  })

  it('takes --host and --port as one target, --targets as several', () => {
    expect(parseLoadArgs(['--host', 'localhost', '--port', '7000']).config.targets).toEqual([{ host: 'localhost', port: 7000 }])
    expect(parseLoadArgs(['--targets', '127.0.0.1:7000,127.0.0.1:7100, [::1]:7200']).config.targets).toEqual([
      { host: '127.0.0.1', port: 7000 },
      { host: '127.0.0.1', port: 7100 },
      { host: '::1', port: 7200 }
    ])
  })

  it('takes --tls with --ca or --tls-insecure', () => {
    expect(parseLoadArgs(['--port', '7000', '--tls', '--ca', 'ca.pem']).config.tls).toEqual({ ca: 'ca.pem', insecure: false })
    expect(parseLoadArgs(['--port', '7000', '--tls', '--tls-insecure']).config.tls).toEqual({ ca: null, insecure: true })
    expect(parseLoadArgs(['--port', '7000']).config.tls).toBeNull()
    expect(() => parseLoadArgs(['--port', '7000', '--ca', 'ca.pem'])).toThrow(/go with --tls/)
  })

  it('takes --user with --password, or with SWITCHBOARD_PASSWORD from the environment', () => {
    expect(parseLoadArgs(['--port', '7000', '--user', 'alice', '--password', 'pw']).config.auth).toEqual({ user: 'alice', password: 'pw' })
    expect(parseLoadArgs(['--port', '7000']).config.auth).toBeNull()
    expect(() => parseLoadArgs(['--port', '7000', '--password', 'pw'])).toThrow(/--password goes with --user/)
    const before = process.env.SWITCHBOARD_PASSWORD
    try {
      delete process.env.SWITCHBOARD_PASSWORD
      expect(() => parseLoadArgs(['--port', '7000', '--user', 'alice'])).toThrow(/--user needs a password/)
      process.env.SWITCHBOARD_PASSWORD = 'from-env'
      expect(parseLoadArgs(['--port', '7000', '--user', 'alice']).config.auth).toEqual({ user: 'alice', password: 'from-env' })
    } finally {
      if (before === undefined) delete process.env.SWITCHBOARD_PASSWORD
      else process.env.SWITCHBOARD_PASSWORD = before
    }
  })

  it('takes --resume and a storm --storm-after seconds into sending', () => {
    expect(parseLoadArgs(['--port', '7000', '--resume', '--storm-after', '1.5']).config).toMatchObject({ resume: true, stormAfterMs: 1500 })
    expect(parseLoadArgs(['--port', '7000']).config).toMatchObject({ resume: false, stormAfterMs: 0 })
  })

  it('sets up a rate search with a p99 target in milliseconds', () => {
    const { search } = parseLoadArgs(['--port', '7000', '--search-p99', '5', '--trial', '1', '--search-max', '400'])
    expect(search).toEqual({ targetP99Ms: 5, minRate: 1, maxRate: 400, trialMs: 1000, refineSteps: 4 })
  })

  it.each([
    [[], /--port or --targets is required/],
    [['--host', '127.0.0.1'], /--port or --targets is required/],
    [['--port', '0'], /--port takes a whole number from 1 to 65535/],
    [['--targets', '127.0.0.1:7000', '--port', '7100'], /--targets, or --host and --port, not both/],
    [['--targets', '127.0.0.1:7000,7100'], /--targets takes host:port pairs .* not "7100"/],
    [['--targets', '127.0.0.1:7000,'], /--targets takes host:port pairs/],
    [['--targets', '127.0.0.1:7000,127.0.0.1:99999'], /targets\[1\]\.port must be a whole number from 1 to 65535/],
    [['--targets', '127.0.0.1:7000,192.168.1.5:7000'], /host 192\.168\.1\.5 is not on this machine/],
    [['--targets', '127.0.0.1:7000,127.0.0.1:7001', '--codec', 'asio'], /several targets are for the line protocol/],
    [['--port', '7000', '--clients', 'many'], /--clients takes a whole number/],
    [['--port', '7000', '--storm-after', '2'], /needs resume/],
    [['--port', '7000', '--duration', '0'], /--duration takes a number of seconds > 0/],
    [['--port', '7000', '--host', '192.168.1.5'], /not on this machine/],
    [['--port', '7000', '--codec', 'asio', '--room-size', '5'], /roomSize is for the line protocol/],
    [['--port', '7000', '--mode', 'sideways'], /mode must be closed or open/],
    [['--port', '7000', '--loud'], /Unknown option '--loud'/]
  ])('refuses %j', (argv, message) => {
    expect(() => parseLoadArgs(argv)).toThrow(UsageError)
    expect(() => parseLoadArgs(argv)).toThrow(message)
  })
})

describe('the load summary', () => {
  const resuming = { ...loadReport(1).config, resume: true, stormAfterMs: 2000 }

  it('says what a reconnect storm made and what the resuming clients got back', () => {
    const lines = formatReport(loadReport(1, { config: resuming, storm: stormReport() })).split('\n')
    expect(lines[0]).toMatch(/, resuming, storm after 2s$/)
    expect(lines).toContain('  storm: server restarted in 130 ms; 2,000 lost, 2,000 resumed (p50 210 ms, p99 1,840 ms), 0 unresumed')
    expect(lines).toContain('  recovered 12,345 messages, 0 gaps, 0 duplicates, 3 lost in flight')
  })

  it('says no storm was made, and times no resume that did not happen', () => {
    const storm = stormReport({ made: null, lost: 1, resumed: 0, unresumed: 1, recovered: 1, gaps: 1, duplicates: 1, lostInFlight: 0, recoverMs: loadReport(1).latencyMs })
    const summary = formatReport(loadReport(1, { config: { ...resuming, stormAfterMs: 0 }, storm }))
    expect(summary).toContain('\n  storm: no storm made; 1 connection lost, 0 resumed, 1 unresumed\n')
    expect(summary).toContain('\n  recovered 1 message, 1 gap, 1 duplicate, 0 lost in flight\n')
    expect(summary.split('\n')[0]).toMatch(/, resuming$/)
  })

  it('has no storm lines for clients that do not resume', () => {
    const summary = formatReport(loadReport(1))
    expect(summary).not.toMatch(/storm|resum|recovered/)
  })
})

describe('switchboard load (out/main/cli.js)', () => {
  it('runs a load against a server, prints progress and a summary, writes the JSON report, exits 0', async () => {
    const server = run(['serve', '--listen', 'asio:0', '--status-ms', '0'])
    await waitFor('the server', () => /listening on 127\.0\.0\.1:(\d+)/.test(server.output().stdout))
    const port = /listening on 127\.0\.0\.1:(\d+)/.exec(server.output().stdout)![1]
    const json = join(mkdtempSync(join(tmpdir(), 'switchboard-')), 'report.json')
    const load = run(['load', '--port', port, '--codec', 'asio', '--clients', '20', '--messages', '10', '--size', '32', '--json', json])
    expect(await load.exited).toBe(0)
    const { stdout } = load.output()
    expect(stdout).toMatch(/\] done \| open \d+/)
    expect(stdout).toMatch(/complete: 4,000 of 4,000 deliveries, 200 messages sent/)
    expect(stdout).toMatch(/latency ms: p50 [\d.]+ {2}p90/)
    const report = JSON.parse(readFileSync(json, 'utf8'))
    expect(report).toMatchObject({ complete: true, deliveries: 4000, config: { clients: 20, codec: 'asio' } })
    server.child.kill('SIGINT')
    expect(await server.exited).toBe(0)
  })

  it('spreads a run over --targets and reports each one', async () => {
    // Two listeners of one server stand for two nodes of a cluster: one lobby behind two ports.
    const server = run(['serve', '--listen', 'line:0', '--listen', 'line:0', '--status-ms', '0'])
    await waitFor('both listeners', () => (server.output().stdout.match(/listening on/g) ?? []).length === 2)
    const [a, b] = [...server.output().stdout.matchAll(/listening on 127\.0\.0\.1:(\d+)/g)].map((m) => m[1])
    const load = run(['load', '--targets', `127.0.0.1:${a},127.0.0.1:${b}`, '--clients', '5', '--messages', '10', '--size', '24'])
    expect(await load.exited).toBe(0)
    const { stdout } = load.output()
    expect(stdout).toMatch(new RegExp(`5 clients -> 127\\.0\\.0\\.1:${a}, 127\\.0\\.0\\.1:${b} \\(line\\)`))
    expect(stdout).toMatch(/complete: 250 of 250 deliveries/)
    expect(stdout).toContain(`per target: 127.0.0.1:${a} 3 of 3 connected, 150 deliveries; 127.0.0.1:${b} 2 of 2 connected, 100 deliveries`)
    expect(stdout).toMatch(/order: one order in each of 1 room/)
    server.child.kill('SIGINT')
    expect(await server.exited).toBe(0)
  })

  it('exits 1 and says why when the run is incomplete', async () => {
    const port = await freePort()
    const load = run(['load', '--port', String(port), '--clients', '2', '--messages', '1', '--size', '24'])
    expect(await load.exited).toBe(1)
    expect(load.output().stdout).toMatch(/INCOMPLETE: .*no client could connect/)
    expect(load.output().stdout).toMatch(new RegExp(`connect: 127\\.0\\.0\\.1:${port}: ECONNREFUSED x2`))
  })

  it('says what the lowest rate gave when a rate search keeps none', async () => {
    const server = run(['serve', '--listen', 'line:0', '--status-ms', '0'])
    await waitFor('the server', () => /listening on 127\.0\.0\.1:(\d+)/.test(server.output().stdout))
    const port = /listening on 127\.0\.0\.1:(\d+)/.exec(server.output().stdout)![1]
    // No p99 is ever under a nanosecond: the first, lowest rate misses.
    const search = run(['load', '--port', port, '--clients', '2', '--search-p99', '0.000001', '--trial', '0.5', '--size', '24'])
    expect(await search.exited).toBe(1)
    expect(search.output().stdout).toMatch(/no rate kept p99 under 0\.000001ms: the lowest, 1 msg\/s per client, gave p99 [\d.]+ms \(complete\)/)
    server.child.kill('SIGINT')
    expect(await server.exited).toBe(0)
  })

  it('exits 2 with the load usage on a bad flag', async () => {
    const load = run(['load', '--port', '7000', '--window', 'wide'])
    expect(await load.exited).toBe(2)
    expect(load.output().stderr).toMatch(/--window takes a whole number[\s\S]*usage: switchboard load/)
  })
})
