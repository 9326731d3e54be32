// A TLS handshake storm, as one process makes it for bench/tls.ts: `count` TCP connections opened first (cheap,
// a few at a time); it says `connected` and waits for a line on its standard input; then every one's TLS
// client hello is sent in one go, and each connection is done at its WELCOME. Prints the milliseconds from the
// hellos to the last WELCOME.
//   npx tsx bench/handshake-storm.ts PORT COUNT
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'

const OPENING_AT_ONCE = 64

async function main(port: number, count: number): Promise<void> {
  const raw: Socket[] = []
  for (let opened = 0; opened < count; opened += OPENING_AT_ONCE) {
    const batch = Array.from(
      { length: Math.min(OPENING_AT_ONCE, count - opened) },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = netConnect({ port, host: '127.0.0.1' }, () => resolve(socket))
          socket.once('error', reject)
        })
    )
    raw.push(...(await Promise.all(batch)))
  }
  console.log('connected')
  await new Promise((resolve) => process.stdin.once('data', resolve))
  const startedAt = performance.now()
  // The run's own certificate: what is measured is the server's share of the handshake, not trust.
  await Promise.all(
    raw.map(
      (socket) =>
        new Promise<void>((resolve, reject) => {
          const secured = tlsConnect({ socket, rejectUnauthorized: false })
          secured.once('data', () => resolve())
          secured.once('error', reject)
        })
    )
  )
  console.log(Math.round(performance.now() - startedAt))
  for (const socket of raw) socket.destroy()
}

const [port, count] = process.argv.slice(2).map(Number)
main(port, count).then(
  () => process.exit(0),
  (error: Error) => {
    console.error(`handshake storm: ${error.message}`)
    process.exit(1)
  }
)
