import { sep } from 'node:path'

/**
 * Where a file the app loads from disk rather than from its asar archive lives. Worker threads and utility
 * processes load the logic worker, the load agent and what they import by path; a packaged app has them
 * unpacked (electron-builder's asarUnpack) beside the archive, in app.asar.unpacked. Unpackaged, a path is
 * itself.
 */
export function unpacked(file: string, separator: string = sep): string {
  return file.replace(`${separator}app.asar${separator}`, `${separator}app.asar.unpacked${separator}`)
}
