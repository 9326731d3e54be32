import { ResumingClient, type Resumption } from '../src/main/core/client/resuming-client'
import { waitFor } from './helpers'

/**
 * A resuming client in `room` of the servers at `ports` (pushed onto `owned`, for the test to close), with
 * what it hears: its session ids, the room's texts, and its resumptions.
 */
export async function startResumer(ports: number[], room: string, owned: { push(client: ResumingClient): unknown }, backoffMs = 20) {
  // No jitter: the first reconnect comes after backoffMs exactly, so a test can say things meanwhile.
  const client = await ResumingClient.connect({ targets: ports.map((port) => ({ host: '127.0.0.1', port })), backoffMs, maxBackoffMs: 1000, random: () => 1 })
  owned.push(client)
  const heard = { sessionIds: [] as number[], texts: [] as string[], resumptions: [] as Resumption[], lines: [] as string[], disconnects: 0 }
  client.on('disconnected', () => heard.disconnects++)
  client.on('line', (line) => {
    heard.lines.push(line)
    if (line.startsWith('WELCOME ')) heard.sessionIds.push(Number(line.split(' ')[1]))
    const msg = /^@id=\S+ MSG \S+ \S+ (.*)$/.exec(line)
    if (msg) heard.texts.push(msg[1])
  })
  client.on('resumed', (resumption) => heard.resumptions.push(resumption))
  client.send(`JOIN ${room}`)
  client.send('PING in')
  await waitFor('the resumer in its room', () => heard.lines.includes('PONG in'))
  return { client, heard }
}

