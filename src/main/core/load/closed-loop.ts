import { randomInt } from 'node:crypto'
import { connect as netConnect, type Socket } from 'node:net'
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks'
import { resolveLoadOptions } from './options'
import { createScanner, type DeliveryScanner, type DeliverySink } from './scanner'
import type { LatencyReport, LoadOptions, LoadReport } from './types'
import { FrameWriter, TagLayout, frameOf } from './wire'

/** Connections opened at once: enough to be quick, few enough not to overrun a listen backlog. */
const CONNECT_PARALLEL = 64

/** State shared by the clients of one run. Plain counters: the clients update them on every chunk. */
class Run {
  deliveries = 0
  echoed = 0
  protocolErrors = 0
  disconnects = 0
  markers = 0
  /** Clients that have all their deliveries, or whose connection is gone. */
  settled = 0
  sending = false
  finished = false
  firstSendAt = 0
  lastDeliveryAt = 0
  refused: string | null = null
  /** Fires when a counter the current phase waits for moves. */
  onChange: () => void = () => {}

  constructor(
    readonly options: LoadOptions,
    readonly layout: TagLayout,
    /** Send time of message seq of client c, at c * messages + seq. */
    readonly sentAt: Float64Array,
    readonly latency: RecordableHistogram,
    /** The asio barrier body of this run. */
    readonly sync: Buffer
  ) {}
}

/** One connection of the run: it counts what arrives, and keeps `window` messages of its own in flight. */
class LoadClient implements DeliverySink {
  sent = 0
  echoed = 0
  received = 0
  connected = false
  closed = false
  /** Seen its marker: it is in the room, and what arrives from now on is this run's traffic. */
  inRoom = false
  private settled = false
  private nextEcho = 0
  /** performance.now() for the chunk being scanned, taken once and only if needed. */
  private now = 0
  private readonly scanner: DeliveryScanner
  private readonly writer: FrameWriter
  private readonly base: number

  constructor(
    readonly index: number,
    readonly socket: Socket,
    private readonly run: Run
  ) {
    const { codec, messages } = run.options
    this.base = index * messages
    this.scanner = createScanner(codec, run.layout, this, run.sync)
    this.writer = new FrameWriter(codec, run.layout, index)
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    // Errors are counted through 'close', which follows every one of them.
    socket.on('error', () => {})
    socket.on('close', () => this.onClose())
  }

  private clock(): number {
    return this.now === 0 ? (this.now = performance.now()) : this.now
  }

  private onData(chunk: Buffer): void {
    const run = this.run
    if (run.finished) return
    this.now = 0
    const received = this.received
    const echoed = this.echoed
    this.scanner.write(chunk)
    if (this.received !== received) {
      run.deliveries += this.received - received
      run.lastDeliveryAt = this.clock()
      if (!this.settled && this.received >= run.options.clients * run.options.messages) this.settle()
    }
    // One write per chunk, however many echoes it held: the window refills in a single burst.
    if (this.echoed !== echoed) this.pump()
  }

  onDelivery(sender: number, seq: number): void {
    // Before the barrier only a room's history can arrive (asio): older traffic, not this run's.
    if (!this.inRoom) return
    this.received++
    if (sender !== this.index) {
      if (sender < 0) this.run.protocolErrors++
      return
    }
    this.echoed++
    this.run.echoed++
    if (seq !== this.nextEcho || seq >= this.sent) {
      // Lost, repeated or reordered: the server broke the sender's order.
      this.run.protocolErrors++
      if (seq < 0 || seq >= this.sent) return
    }
    this.nextEcho = seq + 1
    const ns = Math.round((this.clock() - this.run.sentAt[this.base + seq]) * 1e6)
    this.run.latency.record(ns > 0 ? ns : 1)
  }

  onMarker(): void {
    if (this.inRoom) return
    this.inRoom = true
    this.run.markers++
    this.run.onChange()
  }

  onRefused(line: string): void {
    this.run.protocolErrors++
    this.run.refused ??= line
  }

  onError(): void {
    this.run.protocolErrors++
    this.socket.destroy()
  }

  /** Sends as many of its messages as the window allows, as one write. */
  pump(): void {
    const { window, messages } = this.run.options
    if (!this.run.sending || this.closed) return
    const count = Math.min(window - (this.sent - this.echoed), messages - this.sent)
    if (count <= 0) return
    const at = performance.now()
    this.run.sentAt.fill(at, this.base + this.sent, this.base + this.sent + count)
    this.socket.write(this.writer.frames(this.sent, count))
    this.sent += count
  }

  /** Sends an already framed message outside the measured traffic (the asio barrier). */
  sendFrame(frame: Buffer): void {
    this.socket.write(frame)
  }

  private settle(): void {
    this.settled = true
    this.run.settled++
    this.run.onChange()
  }

  private onClose(): void {
    this.closed = true
    if (this.run.finished || !this.connected) return
    this.run.disconnects++
    if (!this.settled) this.settle()
  }
}

function connectOne(client: LoadClient): Promise<boolean> {
  return new Promise((resolve) => {
    client.socket.once('connect', () => {
      client.connected = true
      resolve(true)
    })
    client.socket.once('close', () => resolve(false))
  })
}

/** Resolves true once `done()` holds (checked whenever the run reports a change), false after timeoutMs. */
function waitFor(run: Run, done: () => boolean, timeoutMs: number): Promise<boolean> {
  if (done()) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      run.onChange = () => {}
      resolve(false)
    }, timeoutMs)
    run.onChange = () => {
      if (!done()) return
      clearTimeout(timer)
      run.onChange = () => {}
      resolve(true)
    }
  })
}

function latencyOf(histogram: RecordableHistogram): LatencyReport {
  const ms = (ns: number) => (histogram.count === 0 ? 0 : Math.round(ns / 1e3) / 1e3)
  return {
    count: histogram.count,
    p50: ms(histogram.percentile(50)),
    p90: ms(histogram.percentile(90)),
    p99: ms(histogram.percentile(99)),
    p999: ms(histogram.percentile(99.9)),
    max: ms(histogram.max),
    mean: ms(histogram.mean)
  }
}

/**
 * A closed-loop broadcast load: every client connects (a barrier), then each keeps `window`
 * messages of its own un-echoed until it has sent `messages`. Every message reaches every client,
 * so the run is done when each client has exactly clients * messages deliveries.
 */
export async function runClosedLoop(input: Partial<LoadOptions> & Pick<LoadOptions, 'port'>): Promise<LoadReport> {
  const options = resolveLoadOptions(input)
  const { clients: count, messages, timeoutMs } = options
  const layout = new TagLayout(count, messages, options.size)
  const sync = layout.syncBody(randomInt(2 ** 32))
  const run = new Run(options, layout, new Float64Array(count * messages), createHistogram(), sync)
  const clients: LoadClient[] = []
  let connectErrors = 0

  for (let first = 0; first < count; first += CONNECT_PARALLEL) {
    const wave: Promise<boolean>[] = []
    for (let i = first; i < Math.min(count, first + CONNECT_PARALLEL); i++) {
      const client = new LoadClient(i, netConnect({ host: options.host, port: options.port }), run)
      clients.push(client)
      wave.push(connectOne(client))
    }
    for (const ok of await Promise.all(wave)) if (!ok) connectErrors++
  }

  let note: string | undefined
  let cpuStart = process.cpuUsage()
  if (connectErrors > 0) {
    note = `${connectErrors} of ${count} connections failed; nothing was sent`
  } else {
    // The barrier: a client is in the room once the server has greeted it (line) or relayed it
    // the sync body (asio, where a late joiner gets it from the room's history instead).
    if (options.codec === 'asio') clients[0].sendFrame(frameOf('asio', run.sync).frame)
    // A connection lost here (a full server refuses with ERR and closes) means the room is incomplete: stop waiting.
    const ready = await waitFor(run, () => run.markers >= count || run.disconnects > 0, timeoutMs)
    if (!ready || run.markers < count) {
      const why = run.disconnects > 0 ? `${run.disconnects} connections were closed` : `${timeoutMs}ms passed`
      note = `barrier: only ${run.markers} of ${count} clients were in the room when ${why}; nothing was sent`
    } else {
      cpuStart = process.cpuUsage()
      run.sending = true
      run.firstSendAt = performance.now()
      for (const client of clients) client.pump()
      const done = await waitFor(run, () => run.settled >= count, timeoutMs)
      if (!done) note = `timed out after ${timeoutMs}ms`
    }
  }
  const endedAt = performance.now()
  const cpu = process.cpuUsage(cpuStart)
  const lifetime = process.cpuUsage()
  run.finished = true
  for (const client of clients) client.socket.destroy()

  const expected = count * count * messages
  const perClient = count * messages
  const clientsShort = clients.filter((client) => client.received < perClient).length
  const clientsOver = clients.filter((client) => client.received > perClient).length
  const complete = connectErrors === 0 && clientsShort === 0 && clientsOver === 0 && run.disconnects === 0
  if (!note && clientsShort + clientsOver > 0) {
    note = `of ${perClient} deliveries each, ${clientsShort} clients got fewer, ${clientsOver} more`
  }
  if (!note && run.disconnects > 0) note = `${run.disconnects} connections closed during the run`
  if (run.refused) note = `${note ? `${note}; ` : ''}server refused: ${run.refused}`

  const durationMs = run.lastDeliveryAt > run.firstSendAt && run.firstSendAt > 0 ? run.lastDeliveryAt - run.firstSendAt : 0
  const wallMs = run.firstSendAt > 0 ? endedAt - run.firstSendAt : 0
  const perSec = (n: number) => (durationMs > 0 ? Math.round((n * 1000) / durationMs) : 0)
  return {
    options,
    complete,
    expected,
    deliveries: run.deliveries,
    shortfall: Math.max(0, expected - run.deliveries),
    clientsShort,
    durationMs: Math.round(durationMs * 1000) / 1000,
    deliveriesPerSec: perSec(run.deliveries),
    messagesPerSec: perSec(run.echoed),
    latencyMs: latencyOf(run.latency),
    connectErrors,
    disconnects: run.disconnects,
    protocolErrors: run.protocolErrors,
    cpu: {
      userMs: Math.round(cpu.user / 1000),
      systemMs: Math.round(cpu.system / 1000),
      share: wallMs > 0 ? Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 1000) / 1000 : 0,
      processMs: Math.round((lifetime.user + lifetime.system) / 1000)
    },
    ...(note ? { note } : {})
  }
}
