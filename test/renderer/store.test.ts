import { describe, expect, it } from 'vitest'
import { chartPoint, type ChartPoint, type MetricsSnapshot } from '../../src/shared/telemetry'
import { createAppStore } from '../../src/renderer/src/store'
import { applyLine, emptyChat, untagged } from '../../src/renderer/src/store/chat'
import { MESSAGE_CAP } from '../../src/renderer/src/store/client-slice'
import { LOG_CAP } from '../../src/renderer/src/store/log-slice'
import { HISTORY_POINTS } from '../../src/renderer/src/store/series'
import { sessionPage, snapshot as fixture } from '../telemetry-fixtures'

function snapshot(at: number, queue: number): MetricsSnapshot {
  return fixture(at, {
    uptimeMs: at,
    totals: { msgsInPerSec: 1, msgsOutPerSec: 2, logicQueueDepth: queue, logicQueuePeak: queue, poolThreads: 2, poolUtilization: 0.25, eventLoopLagP99Ms: 3 }
  })
}

const point = (at: number, queue: number): ChartPoint => chartPoint(snapshot(at, queue))

describe('the chat view follows the line protocol', () => {
  it('tracks nick, room and members from what the server says', () => {
    const lines = [
      'WELCOME 4 guest-4',
      'JOINED lobby guest-4',
      'JOINED lobby guest-5',
      'USERS lobby guest-4 guest-5',
      'USERS lobby ada',
      'USERS-END lobby 3',
      'NICK guest-4 bob',
      'LEFT lobby ada',
      'MSG lobby bob hi',
      'JOINED den guest-9'
    ]
    const view = lines.reduce(applyLine, emptyChat())
    expect(view).toEqual({ nick: 'bob', room: 'lobby', members: ['bob', 'guest-5'], listing: null })
  })

  it('reads a line tagged with its id as the line itself', () => {
    expect(untagged('@id=mit0c3k2q7x1-41 MSG lobby ada hi there')).toBe('MSG lobby ada hi there')
    expect(untagged('MSG lobby ada @id=x')).toBe('MSG lobby ada @id=x')
    const view = ['WELCOME 1 amy', '@id=a-1 JOINED den amy', '@id=a-2 JOINED den zed'].reduce(applyLine, emptyChat())
    expect(view).toEqual({ nick: 'amy', room: 'den', members: ['amy', 'zed'], listing: null })
  })

  it('starts over when we move rooms', () => {
    const view = ['WELCOME 1 amy', 'JOINED lobby amy', 'JOINED lobby zed', 'LEFT lobby amy', 'JOINED den amy'].reduce(applyLine, emptyChat())
    expect(view).toEqual({ nick: 'amy', room: 'den', members: ['amy'], listing: null })
  })
})

describe('the store', () => {
  it('keeps a bounded history of metrics, as uPlot columns', () => {
    const store = createAppStore()
    for (let i = 0; i < HISTORY_POINTS + 5; i++) store.getState().pushMetrics(snapshot(1000 * i, i))
    const { history, latest } = store.getState()
    expect(history.time).toHaveLength(HISTORY_POINTS)
    expect(history.queueDepth.at(-1)).toBe(HISTORY_POINTS + 4)
    expect(history.time[0]).toBe(5)
    expect(history.poolUtilization[0]).toBe(25)
    expect(latest?.totals.logicQueueDepth).toBe(HISTORY_POINTS + 4)
  })

  it('starts the charts from the host\'s history, keeping what arrived before it', () => {
    const store = createAppStore()
    // A snapshot may arrive before the history does: it is kept after the history's points, once.
    store.getState().pushMetrics(snapshot(5000, 50))
    store.getState().pushMetrics(snapshot(6000, 60))
    store.getState().loadMetricsHistory([point(1000, 10), point(2000, 20), point(5000, 50)])
    const { history } = store.getState()
    expect(history.time).toEqual([1, 2, 5, 6])
    expect(history.queueDepth).toEqual([10, 20, 50, 60])
    expect(history.msgsOutPerSec).toEqual([2, 2, 2, 2])
    expect(history.poolUtilization).toEqual([25, 25, 25, 25])
    expect(history.eventLoopLagMs).toEqual([3, 3, 3, 3])
    store.getState().pushMetrics(snapshot(7000, 70))
    expect(store.getState().history.queueDepth).toEqual([10, 20, 50, 60, 70])
  })

  it('keeps at most HISTORY_POINTS of a long history, the newest', () => {
    const store = createAppStore()
    store.getState().loadMetricsHistory(Array.from({ length: HISTORY_POINTS + 3 }, (_, i) => point(1000 * i, i)))
    const { history } = store.getState()
    expect(history.time).toHaveLength(HISTORY_POINTS)
    expect(history.time[0]).toBe(3)
    expect(history.queueDepth.at(-1)).toBe(HISTORY_POINTS + 2)
  })

  it('holds the last page of sessions it was sent, until the metrics are cleared', () => {
    const store = createAppStore()
    expect(store.getState().sessionPage).toBeNull()
    const page = sessionPage([], { matched: 0, total: 7 })
    store.getState().setSessionPage(page)
    expect(store.getState().sessionPage).toBe(page)
    store.getState().pushMetrics(snapshot(1000, 1))
    store.getState().clearMetrics()
    expect(store.getState()).toMatchObject({ sessionPage: null, latest: null, history: { time: [] } })
  })

  it('keeps the newest log events only', () => {
    const store = createAppStore()
    const events = Array.from({ length: LOG_CAP + 10 }, (_, i) => ({ at: i, kind: 'connect' as const, text: `e${i}` }))
    store.getState().appendLog(events.slice(0, 100))
    store.getState().appendLog(events.slice(100))
    const { log } = store.getState()
    expect(log).toHaveLength(LOG_CAP)
    expect(log[0].text).toBe('e10')
  })

  it('starts a new conversation on connect, and caps what a window shows', () => {
    const store = createAppStore()
    const config = { host: '127.0.0.1', port: 7000, codec: 'line' as const }
    store.getState().setClient({ status: 'connected', config, reason: null, retryInMs: null })
    store.getState().appendFrames({ frames: [{ at: 1, text: 'WELCOME 1 guest-1' }], dropped: 0 })
    expect(store.getState().chat.nick).toBe('guest-1')
    store.getState().setClient({ status: 'connecting', config, reason: null, retryInMs: null })
    expect(store.getState().messages).toEqual([])
    expect(store.getState().chat).toEqual(emptyChat())
    const flood = Array.from({ length: MESSAGE_CAP + 1 }, (_, i) => ({ at: i, text: `MSG lobby x ${i}` }))
    store.getState().appendFrames({ frames: flood, dropped: 7 })
    const { messages, droppedFrames } = store.getState()
    expect(messages).toHaveLength(MESSAGE_CAP)
    expect(messages[0].text).toBe('MSG lobby x 1')
    expect(droppedFrames).toBe(7)
  })

  it('does not read asio bodies as protocol lines', () => {
    const store = createAppStore()
    store.getState().setClient({ status: 'connected', config: { host: 'h', port: 1, codec: 'asio' }, reason: null, retryInMs: null })
    store.getState().appendFrames({ frames: [{ at: 1, text: 'WELCOME 1 x' }], dropped: 0 })
    expect(store.getState().chat).toEqual(emptyChat())
    expect(store.getState().messages).toHaveLength(1)
    // An asio body is the sender's text, whatever it starts with.
    store.getState().appendFrames({ frames: [{ at: 2, text: '@id=1 MSG lobby x hi' }], dropped: 0 })
    expect(store.getState().messages[1].text).toBe('@id=1 MSG lobby x hi')
  })

  it('shows tagged lines as the lines they tag, keeps the conversation while reconnecting, and keeps its own notices apart', () => {
    const store = createAppStore()
    const config = { host: '127.0.0.1', port: 7000, codec: 'line' as const }
    store.getState().setClient({ status: 'connected', config, reason: null, retryInMs: null })
    store.getState().appendFrames({
      frames: [
        { at: 1, text: 'WELCOME 1 guest-1' },
        { at: 2, text: '@id=mit0c3k2q7x1-41 MSG lobby ada hello there' }
      ],
      dropped: 0
    })
    expect(store.getState().messages.map((m) => m.text)).toEqual(['WELCOME 1 guest-1', 'MSG lobby ada hello there'])
    store.getState().setClient({ status: 'reconnecting', config, reason: 'closed by server', retryInMs: 1200 })
    store.getState().appendFrames({ frames: [{ at: 3, text: 'reconnected — 1 missed message restored', notice: true }], dropped: 0 })
    expect(store.getState().messages.map((m) => [m.text, m.notice ?? false])).toEqual([
      ['WELCOME 1 guest-1', false],
      ['MSG lobby ada hello there', false],
      ['reconnected — 1 missed message restored', true]
    ])
    expect(store.getState().chat.nick).toBe('guest-1')
  })
})
