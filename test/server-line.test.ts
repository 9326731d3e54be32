import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { waitFor, sessionsOf } from './helpers'
import { LINE_BACKENDS, lineFixture } from './line-backends'

describe.each(LINE_BACKENDS)('line protocol over loopback, on $name', (backend) => {
  const fixture = lineFixture(backend)
  const setup = fixture.start
  const join = fixture.join

  it('welcomes a session as a guest in the lobby and tells the lobby', async () => {
    const port = await setup()
    const a = await join(port)
    expect(a.nick).toMatch(/^guest-\d+$/)
    if (backend.guestIsSessionId) expect(a.nick).toBe(`guest-${a.id}`)
    const b = await join(port)
    await a.c.expect(`JOINED lobby ${b.nick}`)
  })

  it('broadcasts CHAT to every member of the room, sender included', async () => {
    const port = await setup()
    const a = await join(port)
    const b = await join(port)
    a.c.send('CHAT hello there')
    await a.c.expect(`MSG lobby ${a.nick} hello there`)
    await b.c.expect(`MSG lobby ${a.nick} hello there`)
  })

  it('renames with NICK, tells the room, and refuses a taken or reserved nick', async () => {
    const port = await setup()
    const a = await join(port)
    const b = await join(port)
    a.c.send('NICK alice')
    await a.c.expect(`NICK ${a.nick} alice`)
    await b.c.expect(`NICK ${a.nick} alice`)
    b.c.send('NICK ALICE')
    await b.c.expect(/^ERR nick-taken /)
    b.c.send('NICK guest-999')
    await b.c.expect(/^ERR nick-taken /)
    a.c.send('NICK Alice')
    await a.c.expect('NICK alice Alice')
    a.c.send('CHAT hi')
    await b.c.expect('MSG lobby Alice hi')
  })

  it('moves between rooms with JOIN: LEFT to the old room, JOINED to the new, messages stay in their room', async () => {
    const port = await setup()
    const a = await join(port)
    const b = await join(port)
    const c = await join(port)
    b.c.send('JOIN den')
    await a.c.expect(`LEFT lobby ${b.nick}`)
    await b.c.expect(`LEFT lobby ${b.nick}`)
    await b.c.expect(`JOINED den ${b.nick}`)
    c.c.send('JOIN den')
    await b.c.expect(`JOINED den ${c.nick}`)
    c.c.send('CHAT in the den')
    a.c.send('CHAT in the lobby')
    await b.c.expect(`MSG den ${c.nick} in the den`)
    await a.c.expect(`MSG lobby ${a.nick} in the lobby`)
    expect(a.c.lines.join('\n')).not.toContain('in the den')
    expect(b.c.lines.join('\n')).not.toContain('in the lobby')
  })

  it('answers WHO with the room members, and PING with PONG', async () => {
    const port = await setup()
    const a = await join(port)
    const b = await join(port)
    b.c.send('NICK bob')
    await a.c.expect(`NICK ${b.nick} bob`)
    a.c.send('WHO')
    const users = await a.c.expect(/^USERS /)
    expect(users.split(' ').slice(1).sort()).toEqual(['bob', a.nick, 'lobby'].sort())
    a.c.send('PING t-42')
    await a.c.expect('PONG t-42')
    a.c.send('PING')
    await a.c.expect('PONG')
  })

  it('answers HELP with every verb and its arguments', async () => {
    const port = await setup()
    const a = await join(port)
    a.c.send('HELP')
    const help = await a.c.expect(/^HELP /)
    expect(help).toBe('HELP AUTH <user> <password>, NICK <name>, JOIN <room>, CHAT <text>, WHO, PING [token], QUIT [reason], HELP, CAP ids, HISTORY <n>, RESUME <room> <id>')
    a.c.send('HELP me')
    await a.c.expect('ERR bad-argument HELP takes no argument')
  })

  it('says BYE to QUIT, closes, and tells the room', async () => {
    const port = await setup()
    const a = await join(port)
    const b = await join(port)
    b.c.send('QUIT off to bed')
    await b.c.expect('BYE off to bed')
    await b.c.closed()
    await a.c.expect(`LEFT lobby ${b.nick}`)
  })

  it('commits nothing a session sent after its QUIT', async () => {
    const port = await setup()
    const a = await join(port)
    const b = await join(port)
    b.c.client.sendRaw('QUIT bye\nCHAT after-quit\nNICK zzz\n')
    await a.c.expect(`LEFT lobby ${b.nick}`)
    expect(a.c.lines.join('\n')).not.toMatch(/after-quit|zzz/)
  })

  it('answers every line of a peer that half-closes after sending them', async () => {
    const port = await setup()
    const a = await join(port)
    a.c.client.sendRaw('PING half-close\nWHO\n')
    a.c.client.close()
    await a.c.expect('PONG half-close')
    await a.c.expect(/^USERS lobby /)
    await a.c.closed()
  })

  it('still acts on what a peer sent just before it reset the connection', async () => {
    const port = await setup({ workers: 2, workUs: 300_000 })
    const a = await join(port)
    const b = await join(port)
    // Slow logic (300 ms a message): the reset arrives while the lines are still in the logic queue.
    a.c.client.sendRaw('CHAT one\nCHAT two\nCHAT last words\n')
    await waitFor('the lines read', () => sessionsOf(fixture.server).find((s) => s.id === a.id)!.msgsIn >= 3)
    a.c.client.reset()
    await b.c.expect(`MSG lobby ${a.nick} last words`)
    await b.c.expect(`LEFT lobby ${a.nick}`)
  })

  it('tells the room when a peer just drops', async () => {
    const port = await setup()
    const a = await join(port)
    const b = await join(port)
    // Not a half-close (after which the server would still answer): the peer is gone at once.
    b.c.client.destroy()
    await a.c.expect(`LEFT lobby ${b.nick}`)
  })

  it('answers bad input with ERR and keeps the session and the others going', async () => {
    const port = await setup()
    const a = await join(port)
    const b = await join(port)
    a.c.send('FLY away')
    await a.c.expect(/^ERR unknown-command /)
    a.c.send('JOIN #bad')
    await a.c.expect(/^ERR bad-argument /)
    a.c.send('CHAT')
    await a.c.expect(/^ERR bad-argument /)
    a.c.client.sendRaw(Buffer.from([0x43, 0x48, 0x41, 0x54, 0x20, 0xff, 0x0a]))
    await a.c.expect(/^ERR bad-encoding /)
    a.c.send('CHAT still here')
    await b.c.expect(`MSG lobby ${a.nick} still here`)
    expect(b.c.lines.some((line) => line.startsWith('ERR'))).toBe(false)
  })

  it('refuses a line that still holds a \\r once framed, rather than relay text a receiver would cut short', async () => {
    const port = await setup()
    const a = await join(port)
    const b = await join(port)
    // Framing drops the \r of "\r\n" only; relayed, "hi\r" would reach b as "hi\r\n", read there as "hi".
    a.c.client.sendRaw('CHAT hi\r\r\nCHAT a\rb\r\nPING t\r\r\n')
    await a.c.expect(/^ERR bad-argument .*\\r/)
    await a.c.expect(/^ERR bad-argument /)
    await a.c.expect(/^ERR bad-argument /)
    a.c.client.sendRaw('CHAT crlf is fine\r\n')
    const fine = `MSG lobby ${a.nick} crlf is fine`
    const seen = await b.c.until(fine, (lines) => lines.includes(fine))
    expect(seen.filter((line) => line.startsWith('MSG'))).toEqual([fine])
  })

  it('answers a line over the limit with ERR line-too-long after earlier replies, then closes', async () => {
    const port = await setup({ maxLineBytes: 64 })
    const a = await join(port)
    const b = await join(port)
    a.c.client.sendRaw(`PING before\n${'x'.repeat(65)}\nPING after\n`)
    await a.c.expect('PONG before')
    await a.c.expect(/^ERR line-too-long /)
    await a.c.closed()
    expect(a.c.lines).not.toContain('PONG after')
    await b.c.expect(`LEFT lobby ${a.nick}`)
    b.c.send('PING ok')
    await b.c.expect('PONG ok')
  })

  it('refuses sessions past the limit with ERR server-full', async () => {
    const port = await setup({ maxSessions: 2 })
    // Two on every node: the limit is each node's.
    for (let i = 0; i < 2 * fixture.nodes; i++) await join(port)
    const third = await fixture.connect({ port })
    await third.expect(/^ERR server-full /)
    await third.closed()
  })

  it('drops a consumer that does not read once its output passes the limit, and no one else', async () => {
    const port = await setup({ maxOutputBytes: 256 * 1024 })
    const a = await join(port)
    const b = await join(port)
    await a.c.expect(`JOINED lobby ${b.nick}`)
    // A peer that never reads: first the kernel's buffers fill, then the server's queue for it.
    const slow = connect({ port, host: '127.0.0.1' }).pause()
    const slowClosed = new Promise((resolve) => slow.once('close', resolve))
    slow.on('error', () => {})
    const slowNick = (await a.c.expect(/^JOINED lobby /)).split(' ')[2]
    // Healthy peers read as they go: send in rounds, each waiting for its own echo, 16 MB in all.
    const text = 'y'.repeat(1000)
    let received = 0
    b.c.client.on('line', (line) => (received += line.startsWith(`MSG lobby ${a.nick} `) ? 1 : 0))
    for (let round = 1; round <= 80; round++) {
      for (let i = 0; i < 200; i++) a.c.send(`CHAT ${text}`)
      await b.c.until(`round ${round}`, () => received === round * 200)
      b.c.lines.length = 0
      if (a.c.lines.includes(`LEFT lobby ${slowNick}`)) break
    }
    await a.c.expect(`LEFT lobby ${slowNick}`)
    slow.resume() // it reads what the kernel holds, then finds the connection closed
    await slowClosed
    a.c.send('PING alive')
    await a.c.expect('PONG alive')
    expect(a.c.closedWith).toBeNull()
    expect(b.c.closedWith).toBeNull()
  }, 60_000)
})
