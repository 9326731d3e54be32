import { afterEach, describe, expect, it } from 'vitest'
import { encodeAsio } from '../src/main/core/codec/asio'
import { runClosedLoop } from '../src/main/core/load'
import { createScanner, type DeliverySink } from '../src/main/core/load/scanner'
import { FrameWriter, TagLayout } from '../src/main/core/load/wire'
import type { ChatServer } from '../src/main/core/server/server'
import { startServer } from './helpers'

function collect() {
  const seen: string[] = []
  const sink: DeliverySink = {
    onDelivery: (sender, seq) => seen.push(`${sender}/${seq}`),
    onMarker: () => seen.push('marker'),
    onRefused: (line) => seen.push(`refused ${line}`),
    onError: (detail) => seen.push(`error ${detail}`)
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

  it('stops at a bad asio header', () => {
    const { seen, sink } = collect()
    feed(createScanner('asio', layout, sink, sync), Buffer.from('abcd'), byteByByte)
    expect(seen).toEqual(['error bad asio header "abcd"'])
  })

  it('reads MSG lines, counts WELCOME as the marker, reports ERR and ignores the rest', () => {
    const { seen, sink } = collect()
    const body = new FrameWriter('line', layout, 199).frames(39, 1).subarray('CHAT '.length, -1)
    const input = Buffer.concat([
      Buffer.from('WELCOME 3 guest-3\r\nJOINED lobby guest-3\n'),
      Buffer.from('MSG lobby guest-9 '),
      body,
      Buffer.from('\nMSG lobby x short\nERR bad-argument nope\n')
    ])
    feed(createScanner('line', layout, sink, sync), input, byteByByte)
    expect(seen).toEqual(['marker', '199/39', '-1/-1', 'refused ERR bad-argument nope'])
  })
})

describe('runClosedLoop against the real server', () => {
  let server: ChatServer | undefined
  afterEach(async () => {
    await server?.stop()
    server = undefined
  })

  it.each(['line', 'asio'] as const)('delivers every message to every client, exactly (%s)', async (codec) => {
    const started = await startServer({ listeners: [{ codec, host: '127.0.0.1', port: 0 }] })
    server = started.server
    const report = await runClosedLoop({ port: started.port, codec, clients: 12, messages: 25, size: 32, window: 4 })
    expect(report).toMatchObject({ complete: true, expected: 12 * 12 * 25, deliveries: 12 * 12 * 25, shortfall: 0, protocolErrors: 0 })
    expect(report.latencyMs.count).toBe(12 * 25)
    expect(report.latencyMs.p50).toBeLessThanOrEqual(report.latencyMs.p99)
  })
})
