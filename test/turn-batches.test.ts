import { setImmediate as nextTurn } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { TurnBatches } from '../src/main/core/cluster/turn-batches'
import type { ChatLine } from '../src/main/core/cluster/room-entry'
import type { Writer } from '../src/main/core/cluster/redis'

const WRITER: Writer = { node: 'n1', epoch: 'e1' }

/** Batches whose appends are recorded, each answered with its number (or refused, if `refuse`). */
function recorded(maxBytes?: number, refuse = false) {
  const appends: { room: string; epoch: string; messages: string[] }[] = []
  const batches = new TurnBatches<number>((room, writer, messages: ChatLine[]) => {
    appends.push({ room, epoch: writer.epoch, messages: messages.map(({ nick, text }) => `${nick}: ${text}`) })
    return refuse ? Promise.reject(new Error('OOM')) : Promise.resolve(appends.length)
  }, maxBytes)
  return { appends, batches }
}

describe('TurnBatches', () => {
  it('appends a turn’s messages to a room as one entry, at the turn’s end, in the order they came', async () => {
    const { appends, batches } = recorded()
    const sent = [
      batches.add('lobby', WRITER, { nick: 'alice', text: 'one' }),
      batches.add('dev', WRITER, { nick: 'bob', text: 'elsewhere' }),
      batches.add('lobby', WRITER, { nick: 'carol', text: 'two' })
    ]
    expect(appends).toEqual([])
    await nextTurn()
    expect(appends).toEqual([
      { room: 'lobby', epoch: 'e1', messages: ['alice: one', 'carol: two'] },
      { room: 'dev', epoch: 'e1', messages: ['bob: elsewhere'] }
    ])
    expect(await Promise.all(sent)).toEqual([1, 2, 1])
    batches.add('lobby', WRITER, { nick: 'alice', text: 'next turn' })
    await nextTurn()
    expect(appends[2].messages).toEqual(['alice: next turn'])
  })

  it('closes a room’s batch at once when something else is appended there, so that comes after it', async () => {
    const { appends, batches } = recorded()
    const before = batches.add('lobby', WRITER, { nick: 'alice', text: 'before' })
    batches.close('lobby')
    expect(appends).toEqual([{ room: 'lobby', epoch: 'e1', messages: ['alice: before'] }])
    const afterwards = batches.add('lobby', WRITER, { nick: 'alice', text: 'after' })
    await nextTurn()
    expect(appends[1].messages).toEqual(['alice: after'])
    expect([await before, await afterwards]).toEqual([1, 2])
  })

  it('starts another entry under a new lease epoch, and past its size as members get it', async () => {
    // `MSG lobby alice new\n` is 20 bytes: it fills the batch.
    const { appends, batches } = recorded(20)
    batches.add('lobby', WRITER, { nick: 'alice', text: 'old epoch' })
    batches.add('lobby', { node: 'n1', epoch: 'e2' }, { nick: 'alice', text: 'new' })
    batches.add('lobby', { node: 'n1', epoch: 'e2' }, { nick: 'bob', text: 'fills it up' })
    await nextTurn()
    expect(appends).toEqual([
      { room: 'lobby', epoch: 'e1', messages: ['alice: old epoch'] },
      { room: 'lobby', epoch: 'e2', messages: ['alice: new'] },
      { room: 'lobby', epoch: 'e2', messages: ['bob: fills it up'] }
    ])
  })

  it('settles a batch whose append throws, rather than leave its senders waiting', async () => {
    const batches = new TurnBatches<number>(() => {
      throw new Error('bug')
    })
    const sent = batches.add('lobby', WRITER, { nick: 'alice', text: 'a' })
    await expect(sent).rejects.toThrow('bug')
  })

  it('refuses every message of an entry Redis refused', async () => {
    const { batches } = recorded(undefined, true)
    const sent = [batches.add('lobby', WRITER, { nick: 'alice', text: 'a' }), batches.add('lobby', WRITER, { nick: 'bob', text: 'b' })]
    const settled = await Promise.allSettled(sent)
    expect(settled.map((result) => result.status)).toEqual(['rejected', 'rejected'])
  })
})
