// The TLS handshakes' metering: started a few per event-loop turn, in arrival order, between the turns' reads.
import { setImmediate as nextTurn } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { TurnQueue } from '../src/main/core/net/turn-queue'

describe('TurnQueue', () => {
  it('starts at most perTurn items a turn, in arrival order, none in the turn they arrive', async () => {
    const started: number[] = []
    const queue = new TurnQueue<number>(3, (item) => started.push(item))
    for (let i = 0; i < 8; i++) queue.push(i)
    expect(started).toEqual([])
    await nextTurn()
    expect(started).toEqual([0, 1, 2])
    expect(queue.remove(4)).toBe(true)
    expect(queue.remove(0)).toBe(false)
    await nextTurn()
    expect(started).toEqual([0, 1, 2, 3, 5, 6])
    await nextTurn()
    expect(started).toEqual([0, 1, 2, 3, 5, 6, 7])
    await nextTurn()
    expect(started).toHaveLength(7)
  })

  it('starts everything at once with perTurn 0', () => {
    const started: string[] = []
    const queue = new TurnQueue<string>(0, (item) => started.push(item))
    queue.push('a')
    queue.push('b')
    expect(started).toEqual(['a', 'b'])
  })
})
