import { spawn, type ChildProcess } from 'node:child_process'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { encodeAsio } from '../src/main/core/codec/asio'
import { buildAsioProgram, freePort } from '../scripts/asio-reference'
import { waitFor, type TestClient } from './helpers'
import { serverFixture } from './line-backends'

const fixture = serverFixture()
const processes: ChildProcess[] = []
afterEach(() => processes.splice(0).forEach((child) => child.kill()))

const asioServer = () => fixture.start({ listeners: [{ codec: 'asio', host: '127.0.0.1', port: 0 }] })
const client = (port: number) => fixture.connect({ port, codec: 'asio' })

describe('asio listener', () => {
  it('relays every body to every participant, sender included', async () => {
    const port = await asioServer()
    const a = await client(port)
    const b = await client(port)
    a.send('from a')
    b.send('from b')
    for (const c of [a, b]) {
      await c.until('both bodies', (lines) => lines.includes('from a') && lines.includes('from b'))
    }
  })

  it('gives a newcomer the last 100 messages first, oldest first', async () => {
    const port = await asioServer()
    const a = await client(port)
    for (let i = 0; i < 120; i++) a.send(`m${i}`)
    await a.until('all 120', (lines) => lines.length === 120)
    const late = await client(port)
    await late.until('the history', (lines) => lines.length === 100)
    expect(late.lines).toEqual(Array.from({ length: 100 }, (_, i) => `m${i + 20}`))
  })

  it('closes a session that sends a bad header, and only that one', async () => {
    const port = await asioServer()
    const good = await client(port)
    const bad = await client(port)
    bad.client.sendRaw(Buffer.concat([encodeAsio('fine'), Buffer.from(' 999xxxx')]))
    await bad.closed()
    await good.expect('fine')
    good.send('still relaying')
    await good.expect('still relaying')
  })
})

/** Runs Asio's chat_client: stdin lines go out as messages, bodies received come out on stdout. */
function asioClient(binary: string, port: number) {
  // Its std::cout is fully buffered on a pipe; stdbuf makes it line-buffered so we see each body.
  const child = spawn('stdbuf', ['-oL', binary, '127.0.0.1', String(port)], { stdio: ['pipe', 'pipe', 'inherit'] })
  processes.push(child)
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  return {
    say: (line: string) => child.stdin!.write(`${line}\n`),
    heard: (line: string) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`chat_client never printed ${line}; got ${JSON.stringify(output)}`)), 5000)
        const check = () => {
          if (!output.split('\n').includes(line)) return
          clearTimeout(timer)
          child.stdout!.off('data', check)
          resolve()
        }
        child.stdout!.on('data', check)
        check()
      })
  }
}

/** Connects once a child has bound `port`; it gives no sign when it has, so keep trying until a deadline. */
async function connectOnceListening(port: number, timeoutMs = 5000): Promise<TestClient> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await client(port)
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`nothing listened on ${port} within ${timeoutMs} ms: ${(error as Error).message}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}

describe("interoperation with Asio's own chat example (libasio-dev)", () => {
  let chatClient: string
  let chatServer: string
  beforeAll(async () => {
    ;[chatClient, chatServer] = await Promise.all([buildAsioProgram('chat_client'), buildAsioProgram('chat_server')])
  }, 60_000)

  it("Asio's chat_client talks with our asio listener both ways", async () => {
    const port = await asioServer()
    const ours = await client(port)
    const theirs = asioClient(chatClient, port)
    // Let it connect before it speaks: the server holding both sessions is the sign that it has.
    await waitFor("Asio's chat_client to connect", () => fixture.server.snapshot().totals.sessions === 2)
    theirs.say('hello from asio')
    await ours.expect('hello from asio')
    await theirs.heard('hello from asio')
    ours.send('hello from switchboard')
    await theirs.heard('hello from switchboard')
  })

  it("our asio client talks through Asio's chat_server", async () => {
    const port = await freePort()
    const child = spawn(chatServer, [String(port)], { stdio: 'ignore' })
    processes.push(child)
    const a = await connectOnceListening(port)
    const b = await client(port)
    b.send('x'.repeat(512))
    a.send('short')
    await a.until('both', (lines) => lines.includes('short') && lines.includes('x'.repeat(512)))
    await b.until('both', (lines) => lines.includes('short') && lines.includes('x'.repeat(512)))
  })
})
