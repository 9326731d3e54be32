// Authentication: users files of scrypt hashes, AUTH before anything that needs a room, a wrong password
// answered late and three of them closing the session, nicks that never pass for another user, and the
// file read again without dropping anyone. Over both line backends: one node, and a cluster through Redis.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../scripts/asio-reference'
import { BUILT_CLI as CLI } from '../scripts/built'
import { hashPassword, parseHash, verifyPassword } from '../src/main/core/auth/password'
import { parseUsers, withoutUser, withUser } from '../src/main/core/auth/users'
import { parseCommand } from '../src/main/core/protocol/commands'
import { ChatServer } from '../src/main/core/server/server'
import { LINE_BACKENDS, lineFixture } from './line-backends'
import { LOAD_AGENT_FILE, sessionsOf, TestClient, waitFor } from './helpers'
import { resolveLoadConfig, runLoad } from '../src/main/core/load'

/** Cheap hashes for tests: the cost is in the hash, and the server takes whatever the file says. */
const TEST_COST = { ln: 4, r: 8, p: 1 }
const dir = mkdtempSync(join(tmpdir(), 'switchboard-auth-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let files = 0
function usersFile(entries: Record<string, string>): string {
  const file = join(dir, `users-${files++}`)
  writeFileSync(file, Object.entries(entries).reduce((text, [name, password]) => withUser(text, file, name, hashPassword(password, TEST_COST)), '# test users\n'))
  return file
}

const encode = (text: string) => new TextEncoder().encode(text)

describe('passwords and users files', () => {
  it('hash with scrypt in the PHC format and check a password against it', async () => {
    const hash = hashPassword('correct horse', TEST_COST)
    expect(hash).toMatch(/^\$scrypt\$ln=4,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
    expect(hashPassword('correct horse', TEST_COST)).not.toBe(hash)
    expect(await verifyPassword('correct horse', parseHash(hash))).toBe(true)
    expect(await verifyPassword('correct horsE', parseHash(hash))).toBe(false)
    expect(() => parseHash(hash.replace('ln=4', 'ln=30'))).toThrow(/out of bounds/)
  })

  it('read a users file, naming the line of an entry that is wrong', () => {
    const good = `# comment\n\nalice ${hashPassword('a', TEST_COST)}\nBob ${hashPassword('b', TEST_COST)}\n`
    expect([...parseUsers(good, 'f').values()].map((user) => user.name)).toEqual(['alice', 'Bob'])
    expect(parseUsers(good, 'f').get('bob')?.name).toBe('Bob')
    expect(() => parseUsers(`${good}alice $scrypt$nope`, 'f')).toThrow('f line 5: not an scrypt hash')
    expect(() => parseUsers(`${good}ALICE ${hashPassword('c', TEST_COST)}`, 'f')).toThrow('f line 5: user ALICE is already in the file')
    expect(() => parseUsers(`guest-3 ${hashPassword('c', TEST_COST)}`, 'f')).toThrow(/line 1: guest-<n> names/)
    expect(() => parseUsers('al ice x', 'f')).toThrow(/line 1: expected/)
  })

  it('set an entry in place or at the end, and take one out, keeping the rest of the file', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((password) => hashPassword(password, TEST_COST))
    const text = `# users\nalice ${a}\n\n`
    const added = withUser(text, 'f', 'bob', b)
    expect(added).toBe(`# users\nalice ${a}\nbob ${b}\n`)
    expect(withUser(added, 'f', 'Alice', c)).toBe(`# users\nAlice ${c}\nbob ${b}\n`)
    expect(withoutUser(added, 'f', 'ALICE')).toBe(`# users\nbob ${b}\n`)
  })

  it('parse AUTH: a user name, then the rest of the line as the password', () => {
    expect(parseCommand(encode('AUTH alice pass word'))).toEqual({ verb: 'AUTH', user: 'alice', password: 'pass word' })
    expect(parseCommand(encode('auth alice'))).toMatchObject({ verb: 'ERR', code: 'bad-argument' })
    expect(parseCommand(encode('AUTH alice '))).toMatchObject({ verb: 'ERR', code: 'bad-argument' })
    expect(parseCommand(encode('AUTH al!ce pw'))).toMatchObject({ verb: 'ERR', code: 'bad-argument' })
  })
})

describe.each(LINE_BACKENDS)('a server with users ($name)', (backend) => {
  const fx = lineFixture(backend)
  const FAIL_DELAY_MS = 300
  const start = (file: string) => fx.start({ usersFile: file, authFailDelayMs: FAIL_DELAY_MS })

  /** A client that logged in as `user`; its WELCOME read. */
  async function login(port: number, user: string, password: string) {
    const c = await fx.connect({ port, auth: { user, password } })
    const welcome = await c.expect(/^WELCOME /)
    return { c, nick: welcome.split(' ')[2] }
  }

  it('lets nobody in before AUTH: no room, no nick, no chat; PING and HELP still answered', async () => {
    const port = await start(usersFile({ alice: 'wonderland' }))
    const { c: alice } = await login(port, 'alice', 'wonderland')
    await alice.expect('JOINED lobby alice')
    const stranger = await fx.connect({ port })
    for (const line of ['NICK mallory', 'JOIN lobby', 'CHAT hello?', 'WHO', 'CAP ids']) stranger.send(line)
    stranger.send('PING still-there')
    stranger.send('HELP')
    for (let i = 0; i < 5; i++) await stranger.expect(/^ERR auth-required /)
    await stranger.expect('PONG still-there')
    expect(await stranger.expect(/^HELP /)).toContain('AUTH <user> <password>')
    alice.send('CHAT only for the logged in')
    await alice.expect('MSG lobby alice only for the logged in')
    alice.send('PING sync')
    await alice.expect('PONG sync')
    stranger.send('PING after')
    await stranger.expect('PONG after')
    expect(stranger.lines.filter((line) => /^(WELCOME|JOINED|MSG|NICK)/.test(line))).toEqual([])
  })

  it('welcomes a user under its name, the commands sent behind the AUTH applied after it, in order', async () => {
    const port = await start(usersFile({ alice: 'wonderland' }))
    const c = await fx.connect({ port })
    // One write: the AUTH is still being checked when the others arrive.
    c.client.sendRaw('AUTH alice wonderland\nJOIN tea-party\nCHAT hello\n')
    const welcome = await c.expect(/^WELCOME /)
    expect(welcome.split(' ')[2]).toBe('alice')
    await c.until('the chat', (lines) => lines.includes('MSG tea-party alice hello'))
    const order = c.lines.filter((line) => /^(JOINED|LEFT|MSG)/.test(line))
    expect(order).toEqual(['JOINED lobby alice', 'LEFT lobby alice', 'JOINED tea-party alice', 'MSG tea-party alice hello'])
    await waitFor('the session listed with its user', () => sessionsOf(fx.server).some((row) => row.user === 'alice' && row.nick === 'alice'))
    // The user in any case, the name as the file spells it.
    const again = await login(port, 'ALICE', 'wonderland')
    expect(again.nick).toMatch(/^guest-/)
    await waitFor('both sessions listed as alice', () => sessionsOf(fx.server).filter((row) => row.user === 'alice').length === 2)
  })

  it('closes a session that has not logged in within the partial timeout, PINGs or not; one logged in stays', async () => {
    const port = await fx.start({ usersFile: usersFile({ alice: 'wonderland' }), partialTimeoutMs: 400 })
    const { c: alice } = await login(port, 'alice', 'wonderland')
    const idle = await fx.connect({ port })
    idle.send('PING still-here')
    await idle.expect('PONG still-here')
    expect(await idle.expect(/^ERR /, 3000)).toBe('ERR auth-required no login within 0.4 s: closing')
    await idle.closed()
    alice.send('PING later')
    await alice.expect('PONG later')
  })

  it('answers a wrong password or name late, and closes the session at the third', async () => {
    const port = await start(usersFile({ alice: 'wonderland' }))
    const c = await fx.connect({ port })
    const sentAt = performance.now()
    c.send('AUTH alice looking-glass')
    expect(await c.expect(/^ERR auth-failed /)).toBe('ERR auth-failed wrong user or password (1 of 3 tries)')
    expect(performance.now() - sentAt).toBeGreaterThanOrEqual(FAIL_DELAY_MS - 5)
    c.send('AUTH nobody wonderland')
    expect(await c.expect(/^ERR auth-failed /)).toBe('ERR auth-failed wrong user or password (2 of 3 tries)')
    // Sent behind the third try, and not applied: the session is closed by then.
    c.client.sendRaw('AUTH alice Wonderland\nAUTH alice wonderland\n')
    expect(await c.expect(/^ERR auth-failed /)).toBe('ERR auth-failed wrong user or password 3 times: closing')
    await c.closed()
    expect(c.lines.some((line) => line.startsWith('WELCOME'))).toBe(false)
  })

  it("refuses a nick that is another user's name, in any case; one's own is fine", async () => {
    const port = await start(usersFile({ alice: 'wonderland', bob: 'builder' }))
    const { c } = await login(port, 'alice', 'wonderland')
    await c.expect('JOINED lobby alice')
    c.send('NICK BOB')
    expect(await c.expect(/^ERR /)).toBe("ERR nick-taken nick BOB is a user's name")
    c.send('NICK rabbit')
    await c.expect('NICK alice rabbit')
    c.send('NICK alice')
    await c.expect('NICK rabbit alice')
    c.send('AUTH bob builder')
    expect(await c.expect(/^ERR /)).toBe('ERR bad-argument already logged in as alice')
  })

  it('takes a traffic-lab run whose clients log in, and says why one with a wrong password got nowhere', async () => {
    const port = await start(usersFile({ loader: 'many-clients' }))
    const config = resolveLoadConfig({ targets: fx.ports.map((p) => ({ host: '127.0.0.1', port: p })), clients: 10, roomSize: 5, messages: 10, size: 32, auth: { user: 'loader', password: 'many-clients' } })
    const report = await runLoad(config, { agentFile: LOAD_AGENT_FILE })
    expect(report).toMatchObject({ complete: true, deliveries: 10 * 5 * 10 })
    expect(report.config.auth).toEqual({ user: 'loader', password: '' })
    const refused = await runLoad(resolveLoadConfig({ ...config, clients: 4, auth: { user: 'loader', password: 'wrong' }, timeoutMs: 2000 }), { agentFile: LOAD_AGENT_FILE })
    expect(refused.complete).toBe(false)
    expect(Object.keys(refused.errors)).toEqual(['ERR auth-failed (logging in as loader)'])
    expect(port).toBe(fx.ports[0])
  })

  it('reads the users file again: new users may log in, sessions already in stay', async () => {
    const file = usersFile({ alice: 'wonderland' })
    const port = await start(file)
    const { c: alice } = await login(port, 'alice', 'wonderland')
    writeFileSync(file, withUser('', file, 'bob', hashPassword('builder', TEST_COST)))
    for (const server of fx.servers) expect(server.reload()).toBe('users (1)')
    const { nick } = await login(port, 'bob', 'builder')
    expect(nick).toBe('bob')
    const late = await fx.connect({ port, auth: { user: 'alice', password: 'wonderland' } })
    expect(await late.expect(/^ERR auth-failed /)).toMatch(/1 of 3/)
    alice.send('PING still-in')
    await alice.expect('PONG still-in')
    // A file gone wrong is not taken: the users stay as they were.
    writeFileSync(file, 'bob not-a-hash\n')
    expect(() => fx.server.reload()).toThrow(/line 1: not an scrypt hash/)
    await login(port, 'bob', 'builder')
  })
})

describe('a server without users', () => {
  const fx = lineFixture(LINE_BACKENDS[0])

  it('needs no AUTH, and says so to a client that sends one', async () => {
    const port = await fx.start()
    const { c } = await fx.join(port)
    c.send('AUTH alice wonderland')
    expect(await c.expect(/^ERR /)).toBe('ERR bad-argument this server has no users: no AUTH needed')
  })

  it('cannot be started with users and an asio listener, which could not ask for a login', () => {
    const file = usersFile({ alice: 'wonderland' })
    expect(() => new ChatServer({ listeners: [{ codec: 'asio', host: '127.0.0.1', port: 0 }], usersFile: file, workers: 0 })).toThrow(
      /asio:0 cannot ask for a login/
    )
  })
})

describe('the CLI', () => {
  it('user add takes the password from standard input; serve --users lets that user in', async () => {
    const file = join(dir, 'cli-users')
    const added = spawnSync(process.execPath, [CLI, 'user', 'add', file, 'alice'], { input: 'wonderland\n', encoding: 'utf8' })
    expect(added.stdout).toContain(`user alice added in ${file}`)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(readFileSync(file, 'utf8')).not.toContain('wonderland')
    const changed = spawnSync(process.execPath, [CLI, 'user', 'add', file, 'alice'], { input: 'looking-glass\n', encoding: 'utf8' })
    expect(changed.stdout).toContain(`password of alice changed in ${file}`)
    const port = await freePort()
    const server = spawn(process.execPath, [CLI, 'serve', '--listen', `line:${port}`, '--users', file, '--status-ms', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    server.stdout.on('data', (chunk) => (stdout += String(chunk)))
    try {
      await waitFor('the server to listen', () => stdout.includes('listening'), 10_000)
      const c = await TestClient.connect({ port, auth: { user: 'alice', password: 'looking-glass' } })
      expect(await c.expect(/^WELCOME /)).toMatch(/ alice$/)
      await c.close()
    } finally {
      server.kill('SIGTERM')
    }
    const removed = spawnSync(process.execPath, [CLI, 'user', 'remove', file, 'alice'], { encoding: 'utf8' })
    expect(removed.stdout).toContain('user alice removed')
    expect(parseUsers(readFileSync(file, 'utf8'), file).size).toBe(0)
  })

  it('serve refuses a users file with a wrong line, naming it, before it listens', () => {
    const file = join(dir, 'bad-users')
    writeFileSync(file, '# fine\nalice wonderland\n')
    const run = spawnSync(process.execPath, [CLI, 'serve', '--listen', 'line:0', '--users', file, '--status-ms', '0'], { encoding: 'utf8', timeout: 10_000 })
    expect(run.status).not.toBe(0)
    expect(run.stderr).toContain(`${file} line 2: not an scrypt hash`)
    expect(run.stdout).not.toContain('listening')
  })
})
