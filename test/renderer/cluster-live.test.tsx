// @vitest-environment happy-dom
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react'
import type { ReactElement } from 'react'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { ServerCard } from '../../src/renderer/src/components/ServerCard'
import { SessionsTable } from '../../src/renderer/src/components/SessionsTable'
import { ChatServer } from '../../src/main/core/server/server'
import { SwitchboardHost } from '../../src/main/host/host'
import { OWN_SERVER_ONLY, type Reach } from '../../src/main/host/reach'
import type { ServerConfig } from '../../src/shared/contract'
import { joinLine, LOAD_AGENT_FILE, TestClient, WORKER_FILE } from '../helpers'
import { RedisServer } from '../../scripts/redis-server'
import { renderWithHost, TEST_CONFIG, type Harness } from './harness'

/**
 * Two nodes on one real Redis, each a host of its own as two `switchboard serve --cluster` would be;
 * the control room under test is node-a's, and what it shows of node-b came through Redis alone.
 */
let redis: RedisServer
/** Nodes learn of each other from heartbeats, one a second: longer than waitFor's default second. */
const BEATS = { timeout: 5000 }
beforeAll(async () => {
  redis = await RedisServer.start()
})
afterAll(async () => {
  await redis?.stop()
})

let harness: Harness | undefined
let other: SwitchboardHost | undefined
const clients: TestClient[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await harness?.dispose()
  await other?.dispose()
  harness = other = undefined
})

const nodeConfig = (nodeId: string): ServerConfig => ({ ...TEST_CONFIG, workers: 0, cluster: { redis: redis.url, nodeId } })

/** As `switchboard serve --cluster URL` starts a node: its pages may join the cluster through that Redis only. */
const clusterReach = (): Reach => ({ ...OWN_SERVER_ONLY, redis: redis.url })

async function nodeB(): Promise<number> {
  other = new SwitchboardHost({ workerFile: WORKER_FILE, loadAgentFile: LOAD_AGENT_FILE, config: nodeConfig('node-b'), serverDefaults: { metricsIntervalMs: 50 }, reach: clusterReach() })
  const state = await other.startServer(other.serverState.config)
  expect(state.error).toBeNull()
  return state.bound[0].port
}

async function nodeA(ui: ReactElement): Promise<number> {
  harness = renderWithHost(ui, nodeConfig('node-a'), {}, undefined, clusterReach())
  const state = await act(() => harness!.host.startServer(harness!.host.serverState.config))
  expect(state.error).toBeNull()
  return state.bound[0].port
}

async function member(port: number): Promise<{ c: TestClient; id: number; nick: string }> {
  const joined = await joinLine(port)
  clients.push(joined.c)
  return joined
}

describe('the control room of a cluster node, against a real second node and Redis', () => {
  beforeAll(() => {
    // happy-dom does no layout: give the table's scroller its CSS height (as components.test.tsx does).
    Object.defineProperty(HTMLElement.prototype, 'clientHeight', {
      configurable: true,
      get(this: HTMLElement) {
        return this.classList.contains('table-body') ? 300 : 0
      }
    })
  })

  it('shows both nodes on the server card', async () => {
    await nodeB()
    await nodeA(<ServerCard />)
    const view = await screen.findByRole('region', { name: 'cluster' })
    expect(within(view).getByTestId('cluster-node').textContent).toBe('node-a')
    await waitFor(() => expect(within(view).getByTestId('cluster-redis').textContent).toBe('connected'))
    const nodes = within(view).getByRole('table', { name: 'cluster nodes' })
    await waitFor(() => expect(nodes.querySelector('[data-node="node-b"]')).toBeTruthy(), BEATS)
    expect(within(nodes.querySelector('[data-node="node-a"]') as HTMLElement).getByText('this')).toBeTruthy()
  })

  it('lists the other node\'s session with its node, and kicks it there through Redis', async () => {
    const portB = await nodeB()
    const portA = await nodeA(<SessionsTable />)
    const here = await member(portA)
    const there = await member(portB)
    there.c.send('NICK bea')
    await there.c.expect(`NICK ${there.nick} bea`)

    const rowOf = (node: string, id: number) => document.querySelector(`[data-node="${node}"][data-session="${id}"]`) as HTMLElement | null
    await waitFor(() => expect(rowOf('node-b', there.id)?.textContent ?? '').toContain('bea'), BEATS)
    expect(rowOf('node-a', here.id)).toBeTruthy()
    expect(screen.getByRole('columnheader', { name: /^node/ })).toBeTruthy()

    fireEvent.click(within(rowOf('node-b', there.id)!).getByRole('button', { name: 'Kick' }))
    await there.c.expect('BYE kicked by the control panel')
    await there.c.closed()
    await waitFor(() => expect(rowOf('node-b', there.id)).toBeNull(), BEATS)
    // Ids are per node: node-a's session of the same number, if any, is not the one kicked.
    here.c.send('PING still')
    await here.c.expect('PONG still')
    // A kick naming this node's own id takes no trip through Redis (so it works with Redis away): it closes here.
    const kickRemote = vi.spyOn(ChatServer.prototype, 'kickRemote')
    expect(await harness!.host.kickSession(here.id, 'node-a')).toBe(true)
    await here.c.expect('BYE kicked by the control panel')
    expect(kickRemote).not.toHaveBeenCalled()
  })
})
