// The resuming client against real servers: a dropped connection comes back by itself and gets what it missed,
// a restarted server's gap is reported, and with two targets it fails over to the one that answers.
import { afterEach, describe, expect, it } from 'vitest'
import type { ResumingClient } from '../src/main/core/client/resuming-client'
import type { ChatServer } from '../src/main/core/server/server'
import { TcpProxy } from '../scripts/tcp-proxy'
import { joinLine, startServer, waitFor, type TestClient } from './helpers'
import { startResumer } from './resumer'

const servers: ChatServer[] = []
const clients: (TestClient | ResumingClient)[] = []
const undo: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  for (const step of undo.splice(0)) await step()
  await Promise.all(servers.splice(0).map((s) => s.stop()))
})

async function server(port = 0) {
  const started = await startServer({ maxRate: 0, listeners: [{ codec: 'line', host: '127.0.0.1', port }] })
  servers.push(started.server)
  return started
}

/** A resuming client of the test's own, closed after it (see resumer). */
const resumer = (ports: number[], room: string, backoffMs?: number) => startResumer(ports, room, clients, backoffMs)

async function talker(port: number, room: string) {
  const { c } = await joinLine(port)
  clients.push(c)
  c.send(`JOIN ${room}`)
  await c.expect(/^JOINED /)
  return {
    async say(...texts: string[]) {
      for (const text of texts) c.send(`CHAT ${text}`)
      c.send('PING said')
      await c.expect('PONG said')
    },
    /** Takes `nick`, trying again while its holder's session is still closing. */
    async rename(nick: string) {
      for (let attempt = 0; ; attempt++) {
        c.send(`NICK ${nick}`)
        const answer = await c.expect(new RegExp(`^NICK \\S+ ${nick}$|^ERR nick-taken `))
        if (answer.startsWith('NICK ')) return
        if (attempt === 50) throw new Error(`${nick} stayed taken`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
  }
}

describe('ResumingClient', () => {
  it('reconnects after its connection is cut and gets every message it missed, in order, once', async () => {
    const { port } = await server()
    // Through a proxy of the test's own, which can drop the connection as a network would.
    const proxy = await TcpProxy.start(port)
    undo.push(() => proxy.stop())
    const { heard } = await resumer([proxy.port], 'den', 500)
    const t = await talker(port, 'den')
    await t.say('a')
    await waitFor('a heard', () => heard.texts.includes('a'))
    proxy.dropConnections()
    // Said while it is away: it comes back 500 ms after it noticed.
    await waitFor('the resumer disconnected', () => heard.disconnects === 1)
    await t.say('b', 'c')
    await waitFor('resumed', () => heard.resumptions.length === 1, 10_000)
    await t.say('d')
    await waitFor('d heard', () => heard.texts.includes('d'))
    expect(heard.texts).toEqual(['a', 'b', 'c', 'd'])
    expect(heard.resumptions[0]).toMatchObject({ room: 'den', gone: null })
    expect(heard.resumptions[0].restored).toBe(2)
    expect(heard.sessionIds).toHaveLength(2)
  })

  it('in the lobby, with the room talking as it comes back: every message once, in order', async () => {
    const { port } = await server()
    const proxy = await TcpProxy.start(port)
    undo.push(() => proxy.stop())
    const { heard } = await resumer([proxy.port], 'lobby', 5)
    const t = await talker(port, 'lobby')
    let talking = true
    const said: string[] = []
    // In bursts, so that some reach the new connection in the lobby before its RESUME is read.
    const talked = (async () => {
      for (let i = 0; talking; i += 20) {
        const burst = Array.from({ length: 20 }, (_, k) => `m${i + k}`)
        said.push(...burst)
        await t.say(...burst)
      }
    })()
    await waitFor('some heard', () => heard.texts.length > 5)
    proxy.dropConnections()
    await waitFor('resumed', () => heard.resumptions.length === 1, 10_000)
    const atResume = heard.texts.length
    await waitFor('more heard after', () => heard.texts.length > atResume + 100, 10_000)
    talking = false
    await talked
    await waitFor('all heard', () => heard.texts.at(-1) === said.at(-1), 10_000)
    // Every MSG line it passed on, tagged or not (a new connection's first lines come before its CAP is read).
    const passedOn = heard.lines.flatMap((line) => /^(?:@id=\S+ )?MSG \S+ \S+ (.*)$/.exec(line)?.[1] ?? [])
    expect(passedOn).toEqual(said.slice(said.indexOf(passedOn[0])))
  })

  it('goes by its guest name when the nick it chose is still held by its old session', async () => {
    const { port } = await server()
    const proxy = await TcpProxy.start(port)
    undo.push(() => proxy.stop())
    // Back 300 ms after it noticed: long enough for another session to take its nick meanwhile.
    const { client, heard } = await resumer([proxy.port], 'den', 300)
    client.send('NICK rita')
    await waitFor('renamed', () => heard.lines.includes('NICK guest-1 rita'))
    // Another session takes the nick while it is away: it comes back as its guest, still in its room.
    proxy.dropConnections()
    await waitFor('away', () => heard.disconnects === 1)
    const other = await talker(port, 'den')
    await other.rename('rita')
    await waitFor('resumed', () => heard.resumptions.length === 1, 10_000)
    expect(heard.lines).toContain('ERR nick-taken nick rita is taken')
    client.send('JOIN den2')
    await waitFor('its JOIN followed', () => heard.lines.some((line) => / JOINED den2 guest-\d+$/.test(line)))
    await other.say('not for us')
    proxy.dropConnections()
    await waitFor('resumed in den2', () => heard.resumptions.length === 2 && heard.resumptions[1].room === 'den2', 10_000)
  })

  it('does not come back when the server kicked it', async () => {
    const { server: s, port } = await server()
    const { client, heard } = await resumer([port], 'den')
    const closed = new Promise<string>((resolve) => client.on('close', resolve))
    s.kick(heard.sessionIds[0], 'by a test')
    expect(await closed).toBe('closed by the server: kicked by a test')
    expect(heard.disconnects).toBe(0)
  })

  it('reports the gap when the server it comes back to is a new one (a restart), and fails over to the next target', async () => {
    const first = await server()
    const second = await server()
    const { client, heard } = await resumer([first.port, second.port], 'den')
    const t = await talker(first.port, 'den')
    await t.say('a')
    await waitFor('a heard', () => heard.texts.includes('a'))
    await first.server.stop()
    await waitFor('resumed on the second server', () => heard.resumptions.length === 1, 10_000)
    expect(heard.resumptions[0].target.port).toBe(second.port)
    // The second server never gave that id: what came after it cannot be told, and the client is told so.
    expect(heard.resumptions[0].gone).not.toBeNull()
    expect(client.target.port).toBe(second.port)
    const t2 = await talker(second.port, 'den')
    await t2.say('z')
    await waitFor('z heard', () => heard.texts.includes('z'))
  })
})
