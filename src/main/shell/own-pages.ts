import { pathToFileURL } from 'node:url'

/**
 * Whether an IPC call comes from one of the app's own pages (Electron's security checklist: validate every
 * IPC sender). In development the renderer is served by Vite at `devServerUrl`; built, it is one file. The
 * hash (`#client`) and query do not matter; the origin, or the file, does.
 */
export function ownPages(devServerUrl: string | undefined, rendererFile: string): (url: string | undefined) => boolean {
  const own = devServerUrl ? new URL(devServerUrl).origin : pathToFileURL(rendererFile).href
  return (url) => {
    if (!url) return false
    try {
      const parsed = new URL(url)
      if (devServerUrl) return parsed.origin === own
      parsed.hash = ''
      parsed.search = ''
      return parsed.href === own
    } catch {
      return false
    }
  }
}
