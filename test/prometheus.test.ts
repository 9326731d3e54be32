import { execFileSync } from 'node:child_process'
import { get, type IncomingHttpHeaders } from 'node:http'
import { resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { PrometheusMetrics } from '../src/main/core/metrics/prometheus'
import type { ServerCounters } from '../src/main/core/server/server'
import { SwitchboardHost } from '../src/main/host/host'
import { startWebHost, type WebHost } from '../src/main/web/web-host'
import { DEFAULT_LIMITS } from '../src/shared/contract'
import { LOAD_AGENT_FILE, TestClient, WORKER_FILE } from './helpers'

const TOKEN = 'scrape-token-456'
let host: SwitchboardHost | undefined
let web: WebHost | undefined

afterEach(async () => {
  await web?.close()
  await host?.dispose()
  web = host = undefined
})

async function setup(): Promise<{ base: string; port: number }> {
  host = new SwitchboardHost({
    workerFile: WORKER_FILE,
    loadAgentFile: LOAD_AGENT_FILE,
    config: { listeners: [{ codec: 'line', host: '127.0.0.1', port: 0 }], workers: 0, workUs: 0, cluster: null, limits: { ...DEFAULT_LIMITS, idleTimeoutMs: 1500 } }
  })
  web = await startWebHost({ host, rendererDir: resolve('out/renderer'), port: 0, token: TOKEN })
  const state = await host.startServer(host.serverState.config)
  expect(state.status).toBe('running')
  return { base: `http://127.0.0.1:${web.port}`, port: state.bound[0].port }
}

function scrape(base: string, headers: Record<string, string> = { Authorization: `Bearer ${TOKEN}` }): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolvePromise, reject) => {
    get(`${base}/metrics`, { headers }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (body += chunk))
      response.on('end', () => resolvePromise({ status: response.statusCode!, headers: response.headers, body }))
    }).on('error', reject)
  })
}

/** Scrapes until `done` holds of what came back (or 50 tries, 50 ms apart), and returns the last scrape. */
async function scrapeUntil(base: string, done: (body: string) => boolean): ReturnType<typeof scrape> {
  let scraped = await scrape(base)
  for (let tries = 0; !done(scraped.body) && tries < 50; tries++) {
    await new Promise((resolveTimer) => setTimeout(resolveTimer, 50))
    scraped = await scrape(base)
  }
  return scraped
}

/** A sample's value from the text format, e.g. value(body, 'switchboard_sessions{listener="…"}'). */
function value(body: string, sample: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${sample} `))
  return line === undefined ? undefined : Number(line.slice(sample.length + 1))
}

describe('GET /metrics', () => {
  it('is refused without the access token as a bearer token, cookie or query string notwithstanding', async () => {
    const { base } = await setup()
    expect((await scrape(base, {})).status).toBe(401)
    expect((await scrape(base, { Authorization: 'Bearer wrong' })).status).toBe(401)
    const refused = await scrape(base, { Authorization: `Basic ${TOKEN}`, Cookie: `switchboard_token_${web!.port}=${TOKEN}` })
    expect(refused.status).toBe(401)
    expect(refused.headers['www-authenticate']).toMatch(/^Bearer/)
  })

  it('serves the Prometheus text format that promtool accepts, with the server’s figures', async () => {
    const { base, port } = await setup()
    // One the server ends for its idle timeout, then one that talks (well within its own).
    const idle = await TestClient.connect({ port })
    await idle.closed(5000)
    const talker = await TestClient.connect({ port })
    await talker.expect(/^WELCOME /)
    talker.send('CHAT hello')
    await talker.expect(/^MSG lobby \S+ hello$/)

    const listener = `line:${port}`
    // Scraped until the idle one is gone (its end is committed in order, after what came before it).
    const { status, headers, body } = await scrapeUntil(base, (text) => value(text, `switchboard_sessions{listener="${listener}"}`) === 1)
    expect(status).toBe(200)
    expect(headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8')
    // Prometheus's own parser and linter: exit 0 and nothing to say (names, units, _total, help, types).
    expect(execFileSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' })).toBe('')

    expect(value(body, 'switchboard_server_up')).toBe(1)
    expect(value(body, `switchboard_sessions{listener="${listener}"}`)).toBe(1)
    expect(value(body, 'switchboard_messages_received_total')).toBeGreaterThanOrEqual(1)
    expect(value(body, 'switchboard_deliveries_total')).toBeGreaterThanOrEqual(1)
    expect(value(body, 'switchboard_sent_bytes_total')).toBeGreaterThan(0)
    expect(value(body, 'switchboard_sessions_ended_total{cause="idle-timeout"}')).toBe(1)
    expect(value(body, 'switchboard_sessions_ended_total{cause="slow-consumer"}')).toBe(0)
    expect(value(body, 'switchboard_logic_queue_depth')).toBe(0)
    expect(value(body, 'switchboard_output_pending_bytes')).toBe(0)
    expect(value(body, 'switchboard_event_loop_lag_seconds_count')).toBeGreaterThan(0)
    // A server on its own has no cluster figures at all (rather than a Redis that reads as down).
    expect(body).not.toContain('switchboard_cluster_redis_up{')

    // A session that goes takes nothing from the totals: they never go down while the server runs.
    await talker.close()
    const after = (await scrapeUntil(base, (text) => value(text, `switchboard_sessions{listener="${listener}"}`) === 0)).body
    for (const total of ['switchboard_messages_received_total', 'switchboard_deliveries_total', 'switchboard_sent_bytes_total']) {
      expect(value(after, total)).toBeGreaterThanOrEqual(value(body, total)!)
    }
  })
})

describe('the Prometheus registry on a node of a cluster', () => {
  it('adds Redis health, lease age and stream lag, labelled with the node, and promtool accepts them', async () => {
    const counters: ServerCounters = {
      msgsIn: 5, msgsOut: 50, bytesIn: 100, bytesOut: 1000, rateLimited: 0,
      sessionsByListener: { 'line:7000': 3 },
      limitEnds: { 'slow-consumer': 1, 'idle-timeout': 0, 'partial-timeout': 0, 'rate-limited': 0 },
      logicQueueDepth: 0, outputPendingBytes: 2048, sessionsHeld: 0, batchesRedone: 0,
      cluster: {
        nodeId: 'east-1', redis: 'redis://127.0.0.1:6379', redisReachable: false, fenced: 'lease lapsed', leaseAgeMs: 6500,
        nodes: [], remoteSessions: [], appended: 9, delivered: 9, duplicatesDropped: 2, entriesLost: 3, nodesReaped: 0, backlogBytes: 4096, backlogRefused: 7,
        rooms: [{ room: 'a', localMembers: 1, lagMs: 120 }, { room: 'b', localMembers: 2, lagMs: null }, { room: 'c', localMembers: 1, lagMs: 40 }]
      }
    }
    const metrics = new PrometheusMetrics(() => counters)
    try {
      const body = await metrics.text()
      expect(execFileSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' })).toBe('')
      expect(value(body, 'switchboard_cluster_redis_up{node="east-1"}')).toBe(0)
      expect(value(body, 'switchboard_cluster_fenced{node="east-1"}')).toBe(1)
      expect(value(body, 'switchboard_cluster_lease_age_seconds{node="east-1"}')).toBe(6.5)
      expect(value(body, 'switchboard_cluster_stream_lag_seconds{node="east-1"}')).toBe(0.12)
      expect(value(body, 'switchboard_cluster_backlog_refused_total{node="east-1"}')).toBe(7)
      expect(value(body, 'switchboard_cluster_entries_lost_total{node="east-1"}')).toBe(3)
      expect(value(body, 'switchboard_sessions_ended_total{cause="slow-consumer"}')).toBe(1)
      // Read again: totals are set from the server's, never added up across scrapes.
      expect(value(await metrics.text(), 'switchboard_deliveries_total')).toBe(50)
    } finally {
      metrics.close()
    }
  })
})
