import { ChatServer } from '../server/server'
import type { ServeArgs } from './args'
import { formatStatus } from './status'

/** Runs the server until SIGINT/SIGTERM, then shuts it down gracefully; resolves with the exit code. */
export async function serve(args: ServeArgs, workerFile: string): Promise<number> {
  const server = new ChatServer({
    ...args.server,
    workerFile,
    metricsIntervalMs: args.statusMs > 0 ? args.statusMs : args.server.metricsIntervalMs
  })
  server.on('log', (event) => {
    if (args.verbose || event.kind === 'error' || event.kind === 'pressure' || event.kind === 'shutdown') {
      console.log(`${new Date(event.at).toISOString()} ${event.kind} ${event.text}`)
    }
  })
  if (args.statusMs > 0) server.on('metrics', (snapshot) => console.log(formatStatus(snapshot.totals)))
  try {
    await server.start()
  } catch (error) {
    console.error(`switchboard: cannot start: ${(error as Error).message}`)
    return 1
  }
  for (const listener of server.addresses) {
    console.log(`switchboard: listening on ${listener.host}:${listener.port} (${listener.codec})`)
  }
  const workers = server.options.workers
  console.log(`switchboard: logic on ${workers > 0 ? `${workers} worker threads` : 'the I/O thread'}, work ${server.options.workUs}us/msg`)

  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      console.log(`switchboard: ${signal}: stopping (flushing output for up to ${server.options.shutdownDeadlineMs}ms)`)
      // A second signal means "now": leave without waiting for the flush.
      process.once(signal, () => process.exit(130))
      resolve()
    }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
  })
  await server.stop()
  console.log('switchboard: stopped')
  return 0
}
