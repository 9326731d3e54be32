// Cluster soak: two nodes and a Redis of its own through a scripted bad day, with chat and churn all along.
//   npm run soak:cluster            (builds, then runs this with tsx; about three minutes)
// Node a reaches Redis directly, node b through a proxy that can blackhole its link. Twenty named chatters
// (ten per node) talk in one room and reconnect whenever closed; churners connect and close all along; an
// observer on each node checks that no message of a session comes after its LEFT. After each phase the
// churn pauses and the script prints, per phase: sessions per node, node RSS, Redis memory, duplicate nicks,
// messages after LEFT, ghosts. It exits 1 if any of those is not 0 or within bounds.
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis as RedisClient } from 'ioredis'
import { Redis } from 'ioredis'
import { freePort } from '../scripts/asio-reference'
import { RedisServer } from '../scripts/redis-server'
import { TcpProxy } from '../scripts/tcp-proxy'
import { keys } from '../src/main/core/cluster/keys'
import { ChatClient } from '../src/main/core/client/client'
import { machine, table } from './report'
import { killServersOnInterrupt, startServer, stopServer, switchboard, whenAccepting, type Server } from './servers'
import { exitWith } from './suite'

const ROOM = 'soak'
const CHATTERS_PER_NODE = 10
/** Node RSS may grow this much over the run (MB), Redis hold this much, and it still reads as within bounds. */
const RSS_GROWTH_BOUND_MB = 150
const REDIS_BOUND_MB = 100

/** A client that keeps coming back: named, in the soak room, talking every 100 ms while it is in. */
class Chatter {
  private client: ChatClient | null = null
  private sent = 0
  inRoom = false
  private stopped = false

  constructor(
    readonly nick: string,
    private readonly port: number
  ) {}

  start(): void {
    void this.connect()
    const talk = setInterval(() => {
      if (this.stopped) return clearInterval(talk)
      if (this.inRoom) this.client?.send(`CHAT ${this.nick} ${++this.sent}`)
    }, 100)
  }

  private async connect(): Promise<void> {
    while (!this.stopped) {
      try {
        const client = await ChatClient.connect({ port: this.port })
        this.client = client
        client.on('line', (line) => this.heard(line))
        await new Promise<void>((resolve) => client.once('close', () => resolve()))
      } catch {
        // Refused (the node fenced, or restarting): try again shortly.
      }
      this.client = null
      this.inRoom = false
      await sleep(500)
    }
  }

  private heard(line: string): void {
    if (line.startsWith('WELCOME ')) this.client?.send(`NICK ${this.nick}`)
    else if (line === `NICK ${line.split(' ')[1]} ${this.nick}`) this.client?.send(`JOIN ${ROOM}`)
    else if (line === `JOINED ${ROOM} ${this.nick}`) this.inRoom = true
    // Taken or unavailable (the cluster re-registering): ask again in a moment.
    else if (line.startsWith('ERR nick-taken') || (line.startsWith('ERR unavailable') && !this.inRoom)) setTimeout(() => this.client?.send(`NICK ${this.nick}`), 500)
  }

  stop(): void {
    this.stopped = true
    void this.client?.close()
  }
}

/** Watches the room from one node: a message of a session after its LEFT (before it is back) is counted. */
class Observer {
  afterLeft = 0
  private gone = new Set<string>()
  private client: ChatClient | null = null
  private stopped = false

  constructor(private readonly port: number) {}

  start(): void {
    void (async () => {
      while (!this.stopped) {
        try {
          const client = await ChatClient.connect({ port: this.port, keepAliveMs: 10_000 })
          this.client = client
          this.gone = new Set()
          client.on('line', (line) => this.heard(line))
          client.send(`JOIN ${ROOM}`)
          await new Promise<void>((resolve) => client.once('close', () => resolve()))
        } catch {
          // As a chatter does.
        }
        await sleep(500)
      }
    })()
  }

  private heard(line: string): void {
    const [verb, room, nick] = line.split(' ')
    if (room !== ROOM) return
    if (verb === 'LEFT') this.gone.add(nick)
    else if (verb === 'JOINED') this.gone.delete(nick)
    else if (verb === 'MSG' && this.gone.has(nick)) this.afterLeft++
  }

  stop(): void {
    this.stopped = true
    void this.client?.close()
  }
}

/** Connects and closes clients all along, to both nodes. */
class Churn {
  private running = false
  cycles = 0

  constructor(private readonly ports: number[]) {}

  start(): void {
    this.running = true
    for (const port of this.ports) {
      void (async () => {
        while (this.running) {
          try {
            const client = await ChatClient.connect({ port })
            await sleep(50)
            await client.close()
            this.cycles++
          } catch {
            await sleep(200)
          }
        }
      })()
    }
  }

  stop(): void {
    this.running = false
  }
}

const rssMb = (server: Server) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))![1]) / 1024
  } catch {
    return NaN
  }
}

/** The node's last status line says how many sessions it holds, and whether it is fenced. */
const lastStatus = (server: Server) => server.output.trim().split('\n').filter((line) => line.startsWith('sessions ')).at(-1) ?? ''

interface Phase {
  name: string
  sessions: string
  rssMb: number[]
  redisMb: number
  duplicateNicks: number
  afterLeft: number
  ghosts: number
}

async function main(): Promise<number> {
  killServersOnInterrupt()
  console.log('Switchboard cluster soak')
  for (const [key, value] of Object.entries(machine())) console.log(`  ${key.padEnd(7)} ${value}`)
  const redis = await RedisServer.start()
  const proxy = await TcpProxy.start(redis.port)
  const admin: RedisClient = new Redis(redis.url, { maxRetriesPerRequest: null })
  admin.on('error', () => {})
  const ports = [await freePort(), await freePort()]
  const servers = [
    startServer(...switchboard('line', ['--cluster', redis.url, '--node-id', 'a', '--status-ms', '1000', '--max-rate', '0'])(ports[0])),
    startServer(...switchboard('line', ['--cluster', proxy.url, '--node-id', 'b', '--status-ms', '1000', '--max-rate', '0'])(ports[1]))
  ]
  const chatters: Chatter[] = []
  const observers = ports.map((port) => new Observer(port))
  const churn = new Churn(ports)
  const phases: Phase[] = []
  try {
    for (const [i, server] of servers.entries()) await whenAccepting(server, ports[i])
    const baseRss = servers.map(rssMb)
    for (const [n, port] of ports.entries()) for (let i = 0; i < CHATTERS_PER_NODE; i++) chatters.push(new Chatter(`chat-${n}-${i}`, port))
    for (const c of [...chatters, ...observers]) c.start()
    churn.start()

    /** Lets the cluster settle with the churn paused, then takes the phase's figures. */
    const record = async (name: string) => {
      churn.stop()
      await sleep(8000)
      const nicks = await admin.hvals(keys.roomMembers(ROOM))
      const lobby = await admin.hlen(keys.roomMembers('lobby'))
      const inRoom = chatters.filter((c) => c.inRoom).length + observers.length
      const phase: Phase = {
        name,
        sessions: servers.map((server) => /^sessions (\d+)/.exec(lastStatus(server))?.[1] ?? '?').join(' + '),
        rssMb: servers.map((server, i) => rssMb(server) - baseRss[i]),
        redisMb: Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]) / 2 ** 20,
        duplicateNicks: nicks.length - new Set(nicks).size,
        afterLeft: observers.reduce((sum, o) => sum + o.afterLeft, 0),
        // Members Redis lists that no client is: the lobby should be empty with the churn paused.
        ghosts: lobby + Math.max(0, nicks.length - inRoom)
      }
      phases.push(phase)
      console.log(`  ${name}: sessions ${phase.sessions}, ${churn.cycles} churn cycles so far, ${lastStatus(servers[1]).includes('FENCED') ? 'b fenced' : 'both serving'}`)
      churn.start()
    }

    /** The bad day: each fault, how long it lasts, and how long the cluster has to recover before the figures. */
    const faults: { name: string; begin(): unknown; lastsMs: number; end(): unknown; settleMs: number }[] = [
      { name: 'warm', begin: () => {}, lastsMs: 15_000, end: () => {}, settleMs: 0 },
      { name: 'Redis stalled (SIGSTOP)', begin: () => redis.pause(), lastsMs: 35_000, end: () => redis.resume(), settleMs: 10_000 },
      { name: 'Redis restarted empty', begin: () => redis.restartEmpty(), lastsMs: 0, end: () => {}, settleMs: 10_000 },
      {
        name: 'writes refused (OOM)',
        begin: () => admin.multi().config('SET', 'maxmemory-policy', 'noeviction').config('SET', 'maxmemory', '1').exec(),
        lastsMs: 10_000,
        end: () => admin.config('SET', 'maxmemory', '0'),
        settleMs: 5000
      },
      { name: "node b's link blackholed", begin: () => proxy.blackhole(), lastsMs: 15_000, end: () => proxy.restore(), settleMs: 15_000 }
    ]
    console.log('phases:')
    for (const fault of faults) {
      await fault.begin()
      await sleep(fault.lastsMs)
      await fault.end()
      await sleep(fault.settleMs)
      await record(`${fault.name}${fault.lastsMs > 0 ? ` ${fault.lastsMs / 1000} s` : ''}${fault.settleMs > 0 ? `, then ${fault.settleMs / 1000} s` : ''}`)
    }
  } finally {
    churn.stop()
    for (const c of [...chatters, ...observers]) c.stop()
    redis.resume()
    await Promise.all(servers.map(stopServer))
    admin.disconnect()
    await proxy.stop()
    await redis.stop()
  }

  const within = (p: Phase) =>
    p.duplicateNicks === 0 && p.afterLeft === 0 && p.ghosts === 0 && p.redisMb < REDIS_BOUND_MB && p.rssMb.every((mb) => mb < RSS_GROWTH_BOUND_MB)
  console.log(`
${table(
  ['phase', 'sessions (a + b)', 'node RSS growth MB', 'Redis MB', 'duplicate nicks', 'msgs after LEFT', 'ghosts', ''],
  phases.map((p) => [
    p.name,
    p.sessions,
    p.rssMb.map((mb) => mb.toFixed(0)).join(' / '),
    p.redisMb.toFixed(1),
    String(p.duplicateNicks),
    String(p.afterLeft),
    String(p.ghosts),
    within(p) ? 'ok' : 'OUT OF BOUNDS'
  ])
)}
  bounds: duplicate nicks, messages after LEFT and ghosts 0; node RSS growth < ${RSS_GROWTH_BOUND_MB} MB; Redis < ${REDIS_BOUND_MB} MB`)
  return phases.every(within) ? 0 : 1
}

exitWith(main)
