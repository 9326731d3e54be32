// The slow-consumer policy under a real flood, against the built CLI in a process of its own so that its
// memory is its own: a reader that falls behind in bursts keeps everything, one that never reads is cut.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort } from '../scripts/asio-reference'
import type { LogEvent } from '../src/shared/telemetry'
import { joinLine, startServer, waitFor, sessionsOf } from './helpers'

const CLI = resolve('out/main/cli.js')
const MESSAGES = 400_000
const MB = 1 << 20

/** A line reader that counts the room's MSG lines and checks they come in the order sent (`seq` last). */
class Reader {
  readonly socket: Socket
  msgs = 0
  /** Bytes of MSG lines received: how far this reader has got through the flood. */
  msgBytes = 0
  outOfOrder = 0
  closed = false
  private lines: string[] = []
  private rest = ''

  constructor(port: number) {
    this.socket = connect({ port, host: '127.0.0.1' })
    this.socket.on('error', () => {})
    this.socket.on('close', () => (this.closed = true))
    this.socket.on('data', (chunk: Buffer) => this.take(chunk.toString('latin1')))
  }

  private take(text: string): void {
    const parts = (this.rest + text).split('\n')
    this.rest = parts.pop()!
    for (const line of parts) {
      if (!line.startsWith('MSG ')) {
        this.lines.push(line)
        continue
      }
      // The text ends in its sequence number: each one must be the next.
      const seq = Number(line.slice(line.lastIndexOf(' ') + 1))
      if (seq !== this.msgs) this.outOfOrder++
      this.msgs++
      this.msgBytes += line.length + 1
    }
  }

  /** Joins the flood room and waits until the server says it is in. */
  async join(nick: string): Promise<void> {
    this.socket.write(`NICK ${nick}\r\nJOIN flood\r\nPING ${nick}-in\r\n`)
    await waitFor(`${nick} in the room`, () => this.lines.includes(`PONG ${nick}-in`))
  }
}

describe('the slow-consumer policy, default limits', () => {
  let server: ReturnType<typeof spawn> | null = null
  afterEach(() => {
    server?.kill('SIGKILL')
    server = null
  })

  it(`keeps a reader that pauses until ~10 MB behind through a ${MESSAGES.toLocaleString('en')} x 200 B flood, cuts one that never reads, and stays under 600 MB`, async () => {
    const port = await freePort()
    server = spawn(process.execPath, [CLI, 'serve', '--listen', `line:${port}`, '--max-rate', '0', '--status-ms', '0', '--verbose'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    server.stdout!.on('data', (chunk: Buffer) => (output += chunk))
    server.stderr!.on('data', (chunk: Buffer) => (output += chunk))
    await waitFor('the server to listen', () => output.includes('listening on'), 10_000)

    const sender = new Reader(port)
    const bursty = new Reader(port)
    const stalled = new Reader(port)
    await sender.join('sender')
    await bursty.join('bursty')
    await stalled.join('stalled')
    stalled.socket.pause()

    // Once a second the bursty reader stops reading until it is ~10 MB behind the sender's own echo.
    let maxBehind = 0
    const pauser = setInterval(() => {
      bursty.socket.pause()
      const watch = setInterval(() => {
        const behind = sender.msgBytes - bursty.msgBytes
        maxBehind = Math.max(maxBehind, behind)
        if (behind >= 10 * MB || sender.msgs === MESSAGES || bursty.closed) {
          clearInterval(watch)
          bursty.socket.resume()
        }
      }, 2)
    }, 1000)

    try {
      // 200-byte texts: 190 bytes of padding and the sequence number, sent in chunks with backpressure.
      const pad = 'x'.repeat(190)
      for (let start = 0; start < MESSAGES; start += 1000) {
        let chunk = ''
        for (let seq = start; seq < start + 1000; seq++) chunk += `CHAT ${pad} ${String(seq).padStart(9, '0')}\r\n`
        if (!sender.socket.write(chunk)) await once(sender.socket, 'drain')
      }
      await waitFor('the flood to reach the sender and the bursty reader', () => sender.msgs === MESSAGES && bursty.msgs === MESSAGES || bursty.closed, 120_000)
    } finally {
      clearInterval(pauser)
    }
    const peakRssMb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))![1]) / 1024

    expect(bursty.closed, output.slice(-2000)).toBe(false)
    expect(bursty.msgs).toBe(MESSAGES)
    expect(bursty.outOfOrder).toBe(0)
    // The reader really did fall ~10 MB behind: without that this test would prove nothing.
    expect(maxBehind).toBeGreaterThan(9 * MB)
    expect(sender.msgs).toBe(MESSAGES)
    // It reads what the kernel holds for it, then finds the connection closed, short of the whole flood.
    stalled.socket.resume()
    await waitFor('the stalled reader to be cut', () => stalled.closed, 10_000)
    expect(stalled.msgs).toBeLessThan(MESSAGES)
    await waitFor('the server to log the cut', () => /slow consumer: more than \d+ bytes of output queued/.test(output))
    expect(peakRssMb).toBeLessThan(600)
    for (const reader of [sender, bursty, stalled]) reader.socket.destroy()
  }, 180_000)
})

describe('the output limits, one by one', () => {
  /** A member of the lobby that does not read until told to (its kernel buffers fill first, then the server's queue). */
  async function paused(port: number) {
    const socket = connect({ port, host: '127.0.0.1' }).pause()
    socket.on('error', () => {})
    return { socket }
  }

  /** `count` lines of 1 KB from `sender`, written at once. */
  const flood = (sender: { send(text: string): void }, count: number) => {
    for (let i = 0; i < count; i++) sender.send(`CHAT ${'z'.repeat(1000)}`)
  }

  it('keeps a reader over the soft limit for less than its grace, and cuts one that stays over it', async () => {
    const { server, port } = await startServer({ maxRate: 0, maxOutputBytes: 256 << 20, softOutputBytes: 64 << 10, softOutputMs: 1500 })
    const ends: LogEvent[] = []
    server.on('log', (event) => event.kind === 'disconnect' && ends.push(event))
    try {
      const { c: sender } = await joinLine(port)
      const lagging = await paused(port)
      const stalled = await paused(port)
      sender.send('PING joined')
      await sender.expect('PONG joined')
      const pending = (id: number) => sessionsOf(server).find((s) => s.id === id)?.queuedBytes ?? 0
      const [laggingId, stalledId] = sessionsOf(server).map((s) => s.id).slice(1)
      // 16 MB: more than the kernel holds for a reader that does not read, so the server's queue grows.
      flood(sender, 16_000)
      await waitFor('the lagging reader over the soft limit', () => pending(laggingId) > 64 << 10, 10_000)
      await new Promise((resolve) => setTimeout(resolve, 700))
      lagging.socket.resume()
      await waitFor('the lagging reader caught up', () => pending(laggingId) === 0, 10_000)
      // A second stop, over the limit again: with the first, longer than the grace, but each one shorter.
      lagging.socket.pause()
      flood(sender, 16_000)
      await waitFor('the lagging reader over the soft limit again', () => pending(laggingId) > 64 << 10, 10_000)
      await new Promise((resolve) => setTimeout(resolve, 700))
      lagging.socket.resume()
      await waitFor('the lagging reader caught up again', () => pending(laggingId) === 0, 10_000)
      // The stalled one stays over the limit with nothing new queued for it: the sweep cuts it.
      await waitFor('the stalled reader cut', () => ends.some((e) => e.sessionId === stalledId), 10_000)
      expect(ends.find((e) => e.sessionId === stalledId)!.text).toMatch(/slow consumer: more than 65536 bytes of output queued for 1\.5s/)
      expect(ends.some((e) => e.sessionId === laggingId)).toBe(false)
      sender.send('PING alive')
      await sender.expect('PONG alive')
      lagging.socket.destroy()
      stalled.socket.destroy()
      await sender.close()
    } finally {
      await server.stop()
    }
  }, 30_000)

  it('drops the sessions holding the most once the server holds more output than its cap', async () => {
    const { server, port } = await startServer({ maxRate: 0, maxOutputBytes: 256 << 20, softOutputBytes: 0, maxTotalOutputBytes: 1 << 20 })
    const ends: LogEvent[] = []
    server.on('log', (event) => event.kind === 'disconnect' && ends.push(event))
    try {
      const { c: sender } = await joinLine(port)
      const stalled = await paused(port)
      sender.send('PING joined')
      await sender.expect('PONG joined')
      const stalledId = sessionsOf(server).map((s) => s.id)[1]
      flood(sender, 16_000)
      await waitFor('the stalled reader cut', () => ends.some((e) => e.sessionId === stalledId), 10_000)
      expect(ends.find((e) => e.sessionId === stalledId)!.text).toMatch(/slow consumer: the server's output memory cap \(1048576 bytes\) was reached/)
      sender.send('PING alive')
      await sender.expect('PONG alive', 10_000)
      expect(sender.closedWith).toBeNull()
      stalled.socket.destroy()
      await sender.close()
      // Every session's share came back: the node's total does not drift.
      await waitFor('no output pending', () => server.counters().outputPendingBytes === 0)
    } finally {
      await server.stop()
    }
  }, 30_000)
})
