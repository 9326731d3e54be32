import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Whether an IPC call comes from one of the app's own pages (Electron's security checklist: validate every
 * IPC sender). In development the renderer is served by Vite at `devServerUrl`; built, it is one file.
 * The hash (`#client`) and query do not matter; the origin, or the file, does. Files are compared as paths:
 * Electron's loadFile and Node's pathToFileURL escape some characters of a path (`%`, spaces) differently.
 */
export function ownPages(devServerUrl: string | undefined, rendererFile: string): (url: string | undefined) => boolean {
  const samePath = process.platform === 'win32' ? (a: string, b: string) => a.toLowerCase() === b.toLowerCase() : (a: string, b: string) => a === b
  const file = resolve(rendererFile)
  return (url) => {
    if (!url) return false
    try {
      const parsed = new URL(url)
      if (devServerUrl) return parsed.origin === new URL(devServerUrl).origin
      return parsed.protocol === 'file:' && samePath(fileURLToPath(parsed), file)
    } catch {
      return false
    }
  }
}
