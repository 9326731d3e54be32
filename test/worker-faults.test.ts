import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { LogEvent } from '../src/shared/telemetry'
import { waitFor } from './helpers'
import { serverFixture } from './line-backends'

/** The real worker with faults injected by the frames it is handed (see the file). */
const FAULTY_WORKER = resolve('test/fixtures/faulty-worker.mjs')

const fixture = serverFixture()

async function setup(options: Parameters<typeof fixture.start>[0] = {}) {
  const port = await fixture.start({ workers: 2, workerFile: FAULTY_WORKER, ...options })
  const events: LogEvent[] = []
  fixture.server.on('log', (event) => events.push(event))
  return { port, events }
}

describe('faults in the logic stage', () => {
  it('costs a poisoned frame only its sender an ERR internal, and the server goes on', async () => {
    const { port, events } = await setup()
    const a = await fixture.join(port)
    const b = await fixture.join(port)
    const heardByB: string[] = []
    b.c.client.on('line', (line) => heardByB.push(line))
    a.c.client.sendRaw('PING before\nCHAT poison\nPING after\n')
    b.c.send('PING bystander')
    await b.c.expect('PONG bystander')
    await a.c.expect('PONG before')
    await a.c.expect(/^ERR internal /)
    await a.c.expect('PONG after')
    a.c.send('CHAT still here')
    await b.c.expect(`MSG lobby ${a.nick} still here`)
    expect(heardByB.join('\n')).not.toContain('poison')
    await waitFor('the fault logged', () => events.some((e) => e.kind === 'error' && e.sessionId === a.id && /poisoned frame/.test(e.text)))
  })

  it('redoes a batch whose worker hangs past the deadline, logs and counts it, and traffic flows on', async () => {
    // The hang is endless; a generous deadline keeps a slow machine's honest batches off the count.
    const { port, events } = await setup({ batchTimeoutMs: 1000 })
    const a = await fixture.join(port)
    a.c.send('CHAT hang on')
    await a.c.expect(`MSG lobby ${a.nick} hang on`)
    // The pool still has two working threads: traffic flows on every one of them.
    for (let i = 0; i < 200; i++) a.c.send(`PING ${i}`)
    await a.c.expect('PONG 199')
    expect(events.some((e) => e.kind === 'error' && /deadline/.test(e.text))).toBe(true)
    expect(fixture.server.snapshot().totals.batchTimeouts).toBeGreaterThanOrEqual(1)
  })

  it('still says BYE to everyone on stop when the logic stage is stuck', async () => {
    const { port } = await setup({ batchTimeoutMs: 60_000, shutdownDeadlineMs: 1000 })
    const a = await fixture.join(port)
    const b = await fixture.join(port)
    a.c.send('CHAT hang on')
    await waitFor('the batch stuck on a thread', () => fixture.server.snapshot().totals.batchesInFlight > 0)
    await fixture.server.stop()
    await b.c.expect('BYE server-shutdown')
    await a.c.expect('BYE server-shutdown')
  })
})
