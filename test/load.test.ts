import { createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { encodeAsio } from '../src/main/core/codec/asio'
import { resolveLoadConfig, runLoad } from '../src/main/core/load'
import type { LoadConfig } from '../src/shared/load'
import { freePort } from '../scripts/asio-reference'
import { createScanner, type DeliverySink } from '../src/main/core/load/scanner'
import { FrameWriter, TagLayout } from '../src/main/core/load/wire'
import type { ChatServer } from '../src/main/core/server/server'
import { LOAD_AGENT_FILE, startServer } from './helpers'
import { serverFixture } from './line-backends'

function collect() {
  const seen: string[] = []
  const sink: DeliverySink = {
    onDelivery: (sender, seq) => seen.push(`${sender}/${seq}`),
    onMarker: () => seen.push('marker'),
    onRefused: (line) => seen.push(`refused ${line}`),
    onError: (detail) => seen.push(`error ${detail}`),
    onId: (id, line) => seen.push(`id ${id} ${line}`),
    onResumeEnd: () => seen.push('resume-end')
  }
  return { seen, sink }
}

function feed(scanner: { write(chunk: Buffer): void }, input: Buffer, byteByByte: boolean) {
  if (byteByByte) for (let i = 0; i < input.length; i++) scanner.write(input.subarray(i, i + 1))
  else scanner.write(input)
}

describe.each([
  ['whole', false],
  ['byte by byte', true]
])('delivery scanners (%s)', (_, byteByByte) => {
  const layout = new TagLayout(200, 40, 64)
  const sync = layout.syncBody(0xabcdef)

  it('reads sender and sequence from asio bodies, and spots this run’s barrier only', () => {
    const { seen, sink } = collect()
    const bodies = new FrameWriter('asio', layout, 7).frames(3, 2)
    const input = Buffer.concat([encodeAsio(layout.syncBody(1)), encodeAsio(sync), bodies, encodeAsio('not tagged')])
    feed(createScanner('asio', layout, sink, sync), input, byteByByte)
    expect(seen).toEqual(['marker', '7/3', '7/4', '-1/-1'])
  })

  it('reads the id tags of a resuming client: a MSG’s, its own JOINED’s, and RESUME-END', () => {
    const { seen, sink } = collect()
    const body = new FrameWriter('line', layout, 12).frames(5, 1).subarray('CHAT '.length, -1)
    const input = Buffer.concat([
      Buffer.from('@id=mx1-39 CAP ids\n@id=mx1-40 JOINED load-0 guest-3\nERR history-gone mx1-41\n@id=mx1-41 MSG load-0 guest-9 '),
      body,
      Buffer.from('\nRESUME-END load-0 1\n@id=broken\n')
    ])
    feed(createScanner('line', layout, sink, sync), input, byteByByte)
    // A MSG's id is told once a chunk (the last one), not line by line: after its line, by the chunk's end.
    expect(seen.filter((event) => !event.startsWith('id '))).toEqual(['refused ERR history-gone mx1-41', '12/5', 'resume-end', '-1/-1'])
    expect(seen.filter((event) => event.startsWith('id '))).toEqual(['id mx1-39 CAP', 'id mx1-40 JOINED', 'id mx1-41 MSG'])
    expect(seen.indexOf('id mx1-41 MSG')).toBeGreaterThan(seen.indexOf('12/5'))
  })

  it('stops at a bad asio header', () => {
    const { seen, sink } = collect()
    feed(createScanner('asio', layout, sink, sync), Buffer.from('abcd'), byteByByte)
    expect(seen).toEqual(['error bad asio header "abcd"'])
  })

  it('reads MSG lines, takes the PONG as the marker, reports ERR and ignores the rest', () => {
    const { seen, sink } = collect()
    const body = new FrameWriter('line', layout, 199).frames(39, 1).subarray('CHAT '.length, -1)
    const input = Buffer.concat([
      Buffer.from('WELCOME 3 guest-3\r\nJOINED lobby guest-3\nPONG in-room\r\n'),
      Buffer.from('MSG lobby guest-9 '),
      body,
      Buffer.from('\nMSG lobby x short\nERR bad-argument nope\nBYE kicked by the control panel\n')
    ])
    feed(createScanner('line', layout, sink, sync), input, byteByByte)
    expect(seen).toEqual(['marker', '199/39', '-1/-1', 'refused ERR bad-argument nope', 'refused BYE kicked by the control panel'])
  })
})

/** Loopback targets on these ports. */
const at = (...ports: number[]) => ports.map((port) => ({ host: '127.0.0.1', port }))
const load = (config: Partial<LoadConfig>) => runLoad(resolveLoadConfig(config), { agentFile: LOAD_AGENT_FILE })

const listen = (server: Server): Promise<number> =>
  new Promise((done) => server.listen(0, '127.0.0.1', () => done((server.address() as { port: number }).port)))

/**
 * A line peer behind `nodes` ports that delivers every message to everyone and keeps each sender's
 * order, but gives the clients `reversed(node, k)` picks (k: the k-th client to connect) each batch
 * with its senders interleaved the other way round: nothing is lost, a room may just have no one order.
 */
async function relay(nodes: number, reversed: (node: number, k: number) => boolean) {
  const sockets: { socket: Socket; node: number }[] = []
  let pending: { from: number; line: string }[] = []
  const flush = setInterval(() => {
    if (pending.length === 0) return
    const batch = pending
    pending = []
    const backwards = [...batch].sort((x, y) => y.from - x.from)
    sockets.forEach(({ socket, node }, k) => socket.write((reversed(node, k) ? backwards : batch).map((m) => m.line).join('')))
  }, 5)
  const servers = Array.from({ length: nodes }, (_, node) =>
    createServer((socket) => {
      const from = sockets.push({ socket, node }) - 1
      let held = ''
      socket.on('error', () => {})
      socket.on('data', (chunk) => {
        const lines = (held + chunk.toString('latin1')).split('\n')
        held = lines.pop()!
        for (const line of lines) {
          if (line.startsWith('PING')) socket.write(`PONG${line.slice(4)}\n`)
          else if (line.startsWith('CHAT ')) pending.push({ from, line: `MSG lobby c${from} ${line.slice(5)}\n` })
        }
      })
    })
  )
  const ports = await Promise.all(servers.map(listen))
  return {
    ports,
    close() {
      clearInterval(flush)
      for (const { socket } of sockets) socket.destroy()
      for (const server of servers) server.close()
    }
  }
}

describe('runLoad against the real server', () => {
  const fixture = serverFixture()

  it.each(['line', 'asio'] as const)('closed loop: every message reaches every client, exactly (%s)', async (codec) => {
    const port = await fixture.start({ listeners: [{ codec, host: '127.0.0.1', port: 0 }] })
    const report = await load({ targets: at(port), codec, clients: 12, messages: 25, size: 32, window: 4 })
    expect(report).toMatchObject({ complete: true, expected: 12 * 12 * 25, deliveries: 12 * 12 * 25, shortfall: 0, sent: 12 * 25, protocolErrors: 0 })
    expect(report.order).toEqual({ rooms: 1, split: 0 })
    expect(report.latencyMs.count).toBe(12 * 25)
    expect(report.connectMs.count).toBe(12)
    expect(report.latencyMs.p50).toBeLessThanOrEqual(report.latencyMs.p99)
    expect(report.agentCpu).toHaveLength(1)
  })

  it('spreads clients over agents and rooms, at a connect rate, and still counts exactly', async () => {
    const port = await fixture.start()
    const report = await load({ targets: at(port), clients: 30, agents: 3, roomSize: 7, connectRate: 300, messages: 10, size: 24 })
    // Rooms of 7, 7, 7, 7 and 2: each message reaches the members of its sender's room.
    const expected = 10 * (4 * 7 * 7 + 2 * 2)
    expect(report).toMatchObject({ complete: true, expected, deliveries: expected, sent: 300 })
    expect(report.order).toEqual({ rooms: 5, split: 0 })
    expect(report.agentCpu).toHaveLength(3)
    expect(report.connectMs.count).toBe(30)
  })

  it('open loop for a duration: sends at the rate, and every message sent arrives', async () => {
    const port = await fixture.start()
    const report = await load({ targets: at(port), clients: 5, mode: 'open', rate: 50, messages: 0, durationMs: 400, size: 32 })
    expect(report.complete).toBe(true)
    expect(report.deliveries).toBe(report.sent * 5)
    // 5 clients at 50/s for 0.4 s: about 100 messages, one due at once and then one every 20 ms.
    expect(report.sent).toBeGreaterThanOrEqual(5 * 15)
    expect(report.sent).toBeLessThanOrEqual(5 * 40)
  })

  it('reports refusals and disconnects with their reasons, and calls the run incomplete', async () => {
    const port = await fixture.start({ maxSessions: 4 })
    const report = await load({ targets: at(port), clients: 6, messages: 5, size: 24, timeoutMs: 5000 })
    expect(report.complete).toBe(false)
    expect(report.errors['ERR server-full']).toBe(2)
    expect(report.disconnects).toBe(2)
    // The four that got in still ran, and each of their messages reached all four.
    expect(report.deliveries).toBe(4 * 5 * 4)
  })

  it('ends promptly when a client is kicked mid-run: that client failed, the others ran, no false order split', async () => {
    const port = await fixture.start({ maxRate: 0 })
    let kicked = false
    const report = await runLoad(resolveLoadConfig({ targets: at(port), clients: 6, messages: 3000, window: 8, size: 24 }), { agentFile: LOAD_AGENT_FILE, progressMs: 50 }, (progress) => {
      // The fixture's fresh server numbers the run's clients 1 to 6.
      if (!kicked && progress.phase === 'sending' && progress.sent > 0) kicked = fixture.server.kick(3, 'by the control panel')
    })
    expect(kicked).toBe(true)
    expect(report.complete).toBe(false)
    expect(report.errors).toEqual({ 'BYE kicked': 1 })
    expect(report.disconnects).toBe(1)
    // Not the drain's timeout (60 s by default, past this test's own): the run saw no more could come.
    expect(report.note).toMatch(/^\d+ of \d+ deliveries never arrived: 1 client was disconnected during the run$/)
    expect(report.order).toEqual({ rooms: 1, split: 0 })
    expect(report.targets[0].connected).toBe(6)
  })

  it.each([
    ['asio', 'line', /127\.0\.0\.1:\d+ speaks the line protocol, not asio \(it sent "WELCOME /],
    ['line', 'asio', /127\.0\.0\.1:\d+ did not answer as a line server: is it an asio listener\?/]
  ] as const)('says so when the run speaks %s to a %s listener', async (codec, listenerCodec, note) => {
    const port = await fixture.start({ listeners: [{ codec: listenerCodec, host: '127.0.0.1', port: 0 }] })
    const report = await load({ targets: at(port), codec, clients: 2, messages: 1, size: 24, timeoutMs: 5000 })
    expect(report.complete).toBe(false)
    expect(report.note).toMatch(note)
  })

  it('sees when members of a room were told its messages in different orders', async () => {
    const peer = await relay(1, (_, k) => k % 2 === 1)
    try {
      const report = await load({ targets: at(...peer.ports), clients: 4, messages: 30, window: 4, size: 24, timeoutMs: 5000 })
      expect(report.deliveries).toBe(report.expected)
      expect(report.protocolErrors).toBe(0)
      expect(report.order).toEqual({ rooms: 1, split: 1 })
      expect(report.complete).toBe(false)
      expect(report.note).toMatch(/in 1 of 1 rooms, members saw messages in different orders/)
    } finally {
      peer.close()
    }
  })

  it('gives up on a server that stops answering, and says so', async () => {
    // A peer that lets clients in (it answers their PING) but loses every message after that.
    const lossy = createServer((socket) => {
      socket.on('error', () => {})
      socket.on('data', (chunk) => {
        if (chunk.includes('PING')) socket.write('PONG in-room\n')
      })
    })
    const port = await listen(lossy)
    try {
      // A closed loop sends its window, then waits for echoes that never come.
      const report = await load({ targets: at(port), clients: 2, messages: 20, window: 4, size: 24, timeoutMs: 600 })
      expect(report).toMatchObject({ complete: false, deliveries: 0, sent: 2 * 4 })
      expect(report.note).toMatch(/stalled: nothing was sent or delivered for 600ms/)
    } finally {
      lossy.close()
    }
  })

  it('reports a refused connection as a connect error, naming the address that refused', async () => {
    const port = await freePort()
    const report = await load({ targets: at(port), clients: 3, messages: 1, size: 24, timeoutMs: 5000 })
    expect(report).toMatchObject({ complete: false, connectErrors: 3, errors: { [`connect: 127.0.0.1:${port}: ECONNREFUSED`]: 3 } })
    expect(report.note).toBe(`no client could connect (127.0.0.1:${port}: ECONNREFUSED)`)
  })
})

describe('runLoad over several targets', () => {
  let servers: ChatServer[] = []
  afterEach(async () => {
    await Promise.all(servers.map((server) => server.stop()))
    servers = []
  })

  /** Servers on their own (no shared rooms), each counting the sessions it accepted. */
  async function separateServers(count: number) {
    const started = await Promise.all(Array.from({ length: count }, () => startServer({ workers: 0 })))
    servers = started.map((s) => s.server)
    const sessions = servers.map((server) => {
      const seen = { count: 0 }
      server.on('log', (event) => event.kind === 'connect' && seen.count++)
      return seen
    })
    return { ports: started.map((s) => s.port), sessions }
  }

  it('spreads clients round robin: each server serves its share, and rooms on one server are whole', async () => {
    const { ports, sessions } = await separateServers(2)
    // Rooms of one: each room lives on one server, so two servers that share nothing still owe every delivery.
    const report = await load({ targets: at(...ports), clients: 7, roomSize: 1, messages: 10, size: 24, agents: 2 })
    expect(report).toMatchObject({ complete: true, expected: 70, deliveries: 70 })
    expect(report.order).toEqual({ rooms: 7, split: 0 })
    expect(report.targets).toEqual([
      { host: '127.0.0.1', port: ports[0], clients: 4, connected: 4, deliveries: 40 },
      { host: '127.0.0.1', port: ports[1], clients: 3, connected: 3, deliveries: 30 }
    ])
    expect(sessions.map((s) => s.count)).toEqual([4, 3])
  })

  it('owes each message to its room on every target: servers that share no room fall short by half', async () => {
    const { ports } = await separateServers(2)
    // Rooms of two: client 2r on the first server, 2r + 1 on the second; each sees only its own messages.
    const report = await load({ targets: at(...ports), clients: 4, roomSize: 2, messages: 5, size: 24, timeoutMs: 1000 })
    expect(report).toMatchObject({ complete: false, sent: 20, expected: 40, deliveries: 20, shortfall: 20 })
    expect(report.note).toMatch(/20 of 40 deliveries never arrived/)
    expect(report.targets.map((t) => t.deliveries)).toEqual([10, 10])
  })

  it('checks one room behind two listeners of one server, as behind two nodes of a cluster', async () => {
    const { server, port } = await startServer({
      listeners: [0, 1].map(() => ({ codec: 'line' as const, host: '127.0.0.1', port: 0 }))
    })
    servers = [server]
    const ports = server.addresses.map((l) => l.port)
    expect(ports).toContain(port)
    const report = await load({ targets: at(...ports), clients: 8, messages: 10, size: 24 })
    expect(report).toMatchObject({ complete: true, expected: 8 * 8 * 10, deliveries: 8 * 8 * 10 })
    expect(report.order).toEqual({ rooms: 1, split: 0 })
    expect(report.targets.map((t) => [t.clients, t.connected, t.deliveries])).toEqual([[4, 4, 320], [4, 4, 320]])
  })

  it.each([
    ['agree', () => false, { rooms: 1, split: 0 }],
    ['each deliver in their own order', (node: number) => node === 1, { rooms: 1, split: 1 }]
  ])('sees whether two nodes of a room %s', async (_, reversed, order) => {
    const peer = await relay(2, reversed)
    try {
      const report = await load({ targets: at(...peer.ports), clients: 6, messages: 20, window: 4, size: 24, timeoutMs: 5000 })
      expect(report.deliveries).toBe(report.expected)
      expect(report.order).toEqual(order)
      expect(report.complete).toBe(order.split === 0)
      expect(report.targets.map((t) => t.connected)).toEqual([3, 3])
    } finally {
      peer.close()
    }
  })
})

describe('resolveLoadConfig', () => {
  const one = { targets: at(7000) }
  it.each([
    [{ targets: [{ host: '10.0.0.1', port: 7000 }] }, /host 10\.0\.0\.1 is not on this machine/],
    [{ targets: [...at(7000), { host: '10.0.0.1', port: 7000 }] }, /host 10\.0\.0\.1 is not on this machine/],
    [{ ...one, codec: 'asio', roomSize: 5 }, /roomSize is for the line protocol/],
    [{ targets: at(7000, 7001), codec: 'asio' }, /several targets are for the line protocol/],
    [{ ...one, messages: 0, durationMs: 0 }, /a message count, a duration, or both/],
    [{ ...one, clients: 10_000, size: 4 }, /size must be >= 7/],
    [{ ...one, codec: 'asio', size: 600 }, /<= 512/],
    [{ targets: at(7000, 0) }, /targets\[1\]\.port must be a whole number from 1 to 65535/],
    [{ targets: [{ host: 'a host', port: 7000 }] }, /targets\[0\]\.host must be a host name/],
    [{ targets: [] }, /targets must be a list of 1 to 64/],
    [{}, /targets must be a list/],
    [{ port: 7000 }, /unknown load option port/],
    [{ ...one, bogus: 1 }, /unknown load option bogus/],
    [{ ...one, timeoutMs: 2 ** 31 }, /timeoutMs must be a whole number from 1 to 86400000/],
    [{ ...one, size: 20_000 }, /size must be <= 16320 for the line protocol/]
  ])('refuses %j', (config, message) => {
    expect(() => resolveLoadConfig(config)).toThrow(message)
  })

  it('takes a remote target only when allowed', () => {
    const config = resolveLoadConfig({ targets: [...at(7000), { host: '10.0.0.1', port: 7100 }], allowRemote: true })
    expect(config.targets).toEqual([{ host: '127.0.0.1', port: 7000 }, { host: '10.0.0.1', port: 7100 }])
  })
})
