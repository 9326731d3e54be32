// The traffic lab's reconnect storm, against real servers: resuming load clients lose their connections at
// once (cut by the generator, or their server restarted) under load, come back, RESUME, and the report
// counts what came back. On one node a restart loses the history (gaps, said honestly); on a node of a
// cluster the room streams keep it (recovered, no gap), and the order check holds across the reconnect.
import { describe, expect, it } from 'vitest'
import { LoadRun, resolveLoadConfig } from '../src/main/core/load'
import type { ChatServer } from '../src/main/core/server/server'
import type { LoadConfig, LoadReport } from '../src/shared/load'
import { clusterFixture } from './cluster-nodes'
import { LOAD_AGENT_FILE, startServer } from './helpers'

const cluster = clusterFixture()

/** A resuming open-loop run in rooms of 10 with a storm 600 ms into sending. */
function stormRun(ports: number[], restartServer?: () => Promise<string>, config: Partial<LoadConfig> = {}): Promise<LoadReport> {
  const resolved = resolveLoadConfig({
    targets: ports.map((port) => ({ host: '127.0.0.1', port })),
    clients: 40,
    roomSize: 10,
    mode: 'open',
    rate: 40,
    messages: 0,
    durationMs: 2000,
    size: 32,
    timeoutMs: 15_000,
    resume: true,
    stormAfterMs: 600,
    ...config
  })
  return new LoadRun(resolved, { agentFile: LOAD_AGENT_FILE, restartServer }).done
}

describe('a reconnect storm under load', () => {
  it('refuses a storm without resume, and resume for asio', () => {
    const targets = [{ host: '127.0.0.1', port: 7000 }]
    expect(() => resolveLoadConfig({ targets, stormAfterMs: 100 })).toThrow(/needs resume/)
    expect(() => resolveLoadConfig({ targets, codec: 'asio', resume: true })).toThrow(/resume is for the line protocol/)
  })

  it('every connection cut at once: all come back, resume, and miss nothing, none twice, one order', async () => {
    const { server, port } = await startServer({ maxRate: 0 })
    try {
      const report = await stormRun([port])
      expect(report.storm).toMatchObject({ made: 'every connection cut at once', lost: 40, resumed: 40, unresumed: 0, gaps: 0, duplicates: 0 })
      expect(report.storm!.recovered).toBeGreaterThan(0)
      expect(report.storm!.recoverMs.count).toBe(40)
      expect(report.errors).toEqual({ 'cut by the storm': 40 })
      expect(report.order).toEqual({ rooms: 4, split: 0 })
      expect(report.deliveries).toBe(report.expected)
      expect(report.complete).toBe(true)
    } finally {
      await server.stop()
    }
  }, 30_000)

  it('in the lobby, where the new connections land: what reaches them before their RESUME is not counted twice', async () => {
    const { server, port } = await startServer({ maxRate: 0 })
    try {
      const report = await stormRun([port], undefined, { roomSize: 0, clients: 30 })
      expect(report.storm).toMatchObject({ lost: 30, resumed: 30, unresumed: 0, gaps: 0, duplicates: 0 })
      expect(report.order).toEqual({ rooms: 1, split: 0 })
      expect(report.complete).toBe(true)
    } finally {
      await server.stop()
    }
  }, 30_000)

  it('one node restarted: its history went with it, so every client is told of a gap', async () => {
    const started = await startServer({ maxRate: 0 })
    let server: ChatServer = started.server
    const { port } = started
    try {
      const report = await stormRun([port], async () => {
        await server.stop()
        server = (await startServer({ maxRate: 0, listeners: [{ codec: 'line', host: '127.0.0.1', port }] })).server
        return 'server restarted'
      })
      expect(report.storm).toMatchObject({ made: 'server restarted', lost: 40, resumed: 40, unresumed: 0, gaps: 40, duplicates: 0 })
      expect(report.complete).toBe(false)
      expect(report.note).toMatch(/40 clients resumed past a history gap/)
    } finally {
      await server.stop()
    }
  }, 30_000)

  it('a node of a cluster restarted: its clients resume from the room streams, nothing missed or doubled, one order', async () => {
    const [a, b] = await cluster.twoNodes({ maxRate: 0 })
    let restarted: ChatServer | null = null
    const report = await stormRun([a.port, b.port], async () => {
      await a.server.stop()
      restarted = (await cluster.node('a', { maxRate: 0, listeners: [{ codec: 'line', host: '127.0.0.1', port: a.port }] })).server
      return 'node a restarted'
    })
    expect(restarted).not.toBeNull()
    // Half the clients were on node a.
    expect(report.storm).toMatchObject({ made: 'node a restarted', lost: 20, resumed: 20, unresumed: 0, gaps: 0, duplicates: 0 })
    expect(report.storm!.recovered).toBeGreaterThan(0)
    expect(report.order).toEqual({ rooms: 4, split: 0 })
    expect(report.deliveries).toBeGreaterThanOrEqual(report.expected)
  }, 30_000)
})
