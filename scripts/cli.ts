// `npm run serve -- ...`: the built CLI, built first only when the sources changed since.
import { pathToFileURL } from 'node:url'
import { BUILT_CLI, ensureBuilt } from './built'

if (!ensureBuilt()) process.exit(1)
// Run in this process, so signals (Ctrl-C) reach the server itself; it reads the arguments after this script.
await import(pathToFileURL(BUILT_CLI).href)
