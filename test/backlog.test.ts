import { describe, expect, it } from 'vitest'
import { Backlog } from '../src/main/core/cluster/backlog'

/** A promise and its resolver: an append Redis has not answered yet. */
function pending() {
  let settle!: () => void
  const promise = new Promise<void>((resolve) => (settle = resolve))
  return { promise, settle }
}

describe('Backlog', () => {
  it('refuses past its bound, presses until what it holds is down to half, and counts the refusals', async () => {
    const pressed: boolean[] = []
    const backlog = new Backlog(110_000, (full) => pressed.push(full))
    const appends = Array.from({ length: 6 }, pending)
    for (const { promise } of appends) {
      expect(backlog.admits(4000)).toBe(true)
      backlog.hold(4000, promise)
    }
    expect(backlog.admits(4000)).toBe(false)
    expect(backlog.refused).toBe(1)
    expect(pressed).toEqual([true])
    appends[0].settle()
    appends[1].settle()
    await Promise.resolve()
    expect(pressed).toEqual([true])
    appends[2].settle()
    await appends[2].promise
    await Promise.resolve()
    expect(pressed).toEqual([true, false])
    expect(backlog.admits(4000)).toBe(true)
  })

  it('refuses a line larger than the whole bound without pausing anyone for good', () => {
    const pressed: boolean[] = []
    const backlog = new Backlog(10_000, (full) => pressed.push(full))
    expect(backlog.admits(300_000)).toBe(false)
    expect(pressed).toEqual([])
  })
})
