import type { ServerOptions } from '../core/server/options'

/**
 * The desktop app has no command line of its own: its server's certificate and users come from the environment,
 * named as the CLI's flags are (`SWITCHBOARD_TLS_CERT` for --tls-cert, ...). Throws on a half-given pair.
 */
export function serverFilesFromEnv(env: NodeJS.ProcessEnv): Pick<ServerOptions, 'tls' | 'usersFile'> {
  const { SWITCHBOARD_TLS_CERT: cert, SWITCHBOARD_TLS_KEY: key, SWITCHBOARD_TLS_CA: ca, SWITCHBOARD_USERS: usersFile } = env
  if ((cert === undefined) !== (key === undefined)) throw new Error('SWITCHBOARD_TLS_CERT and SWITCHBOARD_TLS_KEY go together')
  if (ca !== undefined && cert === undefined) throw new Error('SWITCHBOARD_TLS_CA goes with SWITCHBOARD_TLS_CERT and SWITCHBOARD_TLS_KEY')
  return {
    ...(cert !== undefined && key !== undefined ? { tls: ca === undefined ? { cert, key } : { cert, key, ca } } : {}),
    ...(usersFile !== undefined ? { usersFile } : {})
  }
}
