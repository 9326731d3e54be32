import { readFileSync, statSync } from 'node:fs'
import { DEFAULTS } from '../core/server/options'
import { logToConsole } from '../host/console-log'
import { connectLocal } from '../host/local-transport'
import { SwitchboardHost } from '../host/host'
import { createSettingsFile } from '../host/settings'
import { startWebHost, type WebHost } from '../web/web-host'
import type { ServeArgs } from './args'
import { StatusLine } from './status'

export interface ServePaths {
  workerFile: string
  loadAgentFile: string
  /** The built renderer, served in browser mode. */
  rendererDir: string
}

/** Runs the server (and the browser control room with --web) until SIGINT/SIGTERM; resolves with the exit code. */
export async function serve(args: ServeArgs, paths: ServePaths): Promise<number> {
  const settings = args.settingsFile === null ? undefined : createSettingsFile(args.settingsFile)
  // Flags say what to run now; without any, the control room's last config is what its user left running.
  const kept = args.configFlagged ? undefined : settings?.kept?.server
  if (kept) console.log(`switchboard: starting with the server config kept in ${args.settingsFile}`)
  const config = kept ?? args.config
  const host = new SwitchboardHost({
    workerFile: paths.workerFile,
    loadAgentFile: paths.loadAgentFile,
    serverDefaults: args.serverDefaults,
    config,
    settings,
    reach: args.reach,
    clusterTuning: args.clusterTuning,
    redisAccess: args.redisAccess
  })
  // The console is one more peer of the host, like a window.
  const { api } = connectLocal(host)
  logToConsole(api, args.verbose)
  if (args.statusMs > 0) {
    const status = new StatusLine(args.statusMs)
    api.onMetrics((snapshot) => {
      const line = status.take(snapshot)
      if (line !== null) console.log(line)
    })
  }

  const state = await api.startServer(host.serverState.config).catch((error: Error) => ({ status: 'refused', error: error.message }) as const)
  if (state.status !== 'running') {
    console.error(`switchboard: cannot start: ${state.error}`)
    return 1
  }
  for (const listener of state.bound) {
    console.log(`switchboard: listening on ${listener.host}:${listener.port} (${listener.tls ? 'tls+' : ''}${listener.codec})`)
  }
  console.log(`switchboard: logic on ${config.workers > 0 ? `${config.workers} worker threads` : 'the I/O thread'}, work ${config.workUs}us/msg`)

  let web: WebHost | null = null
  if (args.webPort !== null) {
    try {
      const token = args.tokenFile === null ? undefined : readToken(args.tokenFile)
      web = await startWebHost({ host, rendererDir: paths.rendererDir, port: args.webPort, token })
    } catch (error) {
      console.error(`switchboard: cannot serve the control room: ${(error as Error).message}`)
      await host.dispose()
      return 1
    }
    console.log(`switchboard: control room at ${web.url}`)
  }

  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      console.log(`switchboard: ${signal}: stopping (flushing output for up to ${DEFAULTS.shutdownDeadlineMs}ms)`)
      // A second signal means "now": leave without waiting for the flush.
      process.once(signal, () => process.exit(130))
      resolve()
    }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    // As nginx and Redis do: SIGHUP reads the TLS certificate and the users again, and nothing else stops.
    process.on('SIGHUP', () => {
      try {
        console.log(`switchboard: SIGHUP: ${host.reload()} read again`)
      } catch (error) {
        console.error(`switchboard: SIGHUP: nothing read again, the old files stay: ${(error as Error).message}`)
      }
    })
  })
  await host.dispose()
  await web?.close()
  console.log('switchboard: stopped')
  return 0
}

/** The access token kept in `file` (its first line): long enough to guess at no sooner than the random one. */
function readToken(file: string): string {
  const token = readFileSync(file, 'utf8').split('\n')[0].trim()
  if (!/^[A-Za-z0-9_-]{16,}$/.test(token)) throw new Error(`the token in ${file} must be 16 or more characters A-Z a-z 0-9 _ -`)
  // It opens the whole control room, not only /metrics.
  if ((statSync(file).mode & 0o077) !== 0) console.log(`switchboard: warning: ${file} can be read by others than its owner (chmod 600 ${file})`)
  return token
}
