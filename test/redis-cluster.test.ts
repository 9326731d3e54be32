// What docs/CLUSTER.md says about going past one Redis, checked on a real local Redis Cluster of three
// masters: which of the cluster's commands fit Redis Cluster's one-slot rule as they are, and which do not.
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { APPEND_PRESENCE, keys } from '../src/main/core/cluster/keys'
import { RedisCluster } from '../scripts/redis-server'

let cluster: RedisCluster
let client: Cluster
beforeAll(async () => {
  cluster = await RedisCluster.start(3)
  client = new Cluster([{ host: '127.0.0.1', port: cluster.masters[0].port }])
}, 30_000)
afterAll(async () => {
  client?.disconnect()
  await cluster?.stop()
})

/** Which master serves a key, by the cluster's own slot table. */
async function masterOf(key: string): Promise<number> {
  const slot = await client.cluster('KEYSLOT', key)
  const ranges = await client.cluster('SLOTS')
  return ranges.find(([from, to]) => slot >= from && slot <= to)![2][1]
}

describe('room keys on a 3-master Redis Cluster', () => {
  it('keep a room’s stream and member hash in one slot, so the presence script runs on every master, with a copy of the lease in that slot', async () => {
    const rooms = Array.from({ length: 12 }, (_, i) => `room-${i}`)
    const masters = new Set<number>()
    for (const room of rooms) {
      masters.add(await masterOf(keys.roomLog(room)))
      // The node's lease lives in another slot: the script that checks it needs a copy in the room's (CLUSTER.md).
      // So must the list of emptied rooms: a copy per slot (per bucket) too.
      const emptied = `sb:{${room}}:emptied`
      await expect(client.eval(APPEND_PRESENCE, 4, keys.roomLog(room), keys.roomMembers(room), keys.nodeLease('n1'), emptied, 100, 60, 'set', 'n1/1', 'ada', 'e1', 'k', 'joined')).rejects.toThrow(/CROSSSLOT|different slots/)
      const lease = `sb:{${room}}:lease:n1`
      await client.set(lease, 'e1')
      const id = await client.eval(APPEND_PRESENCE, 4, keys.roomLog(room), keys.roomMembers(room), lease, emptied, 100, 60, 'set', 'n1/1', 'ada', 'e1', 'k', 'joined', 'o', 'n1.x.1', 'q', '1', 's', 'n1.x/1', 'n', 'ada')
      expect(id).toMatch(/^\d+-\d+$/)
      expect(await client.hget(keys.roomMembers(room), 'n1/1')).toBe('ada')
    }
    // Twelve rooms landed on all three masters: the work of many rooms spreads over the shards.
    expect(masters.size).toBe(3)
  })

  it('refuse one XREAD over rooms in different slots: a node there needs a read per slot it follows', async () => {
    await expect(client.xread('STREAMS', keys.roomLog('room-0'), keys.roomLog('room-1'), '0', '0')).rejects.toThrow(/CROSSSLOT/)
    // Rooms that share a hash tag share a slot, and one blocking read covers them all.
    await client.xadd('sb:{bucket-7}:room-a', '*', 'k', 'x')
    await client.xadd('sb:{bucket-7}:room-b', '*', 'k', 'y')
    const read = await client.xread('STREAMS', 'sb:{bucket-7}:room-a', 'sb:{bucket-7}:room-b', '0', '0')
    expect(read!.map(([key]) => key)).toEqual(['sb:{bucket-7}:room-a', 'sb:{bucket-7}:room-b'])
  })
})
