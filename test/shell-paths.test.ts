import { describe, expect, it } from 'vitest'
import { ownPages } from '../src/main/shell/own-pages'
import { unpacked } from '../src/main/shell/packaged-paths'

describe('which pages may call the host', () => {
  it('built: the renderer file, whatever its hash or query, and nothing else', () => {
    const own = ownPages(undefined, '/app/out/renderer/index.html')
    expect(own('file:///app/out/renderer/index.html')).toBe(true)
    expect(own('file:///app/out/renderer/index.html#client')).toBe(true)
    expect(own('file:///app/out/renderer/other.html')).toBe(false)
    expect(own('file:///tmp/index.html')).toBe(false)
    expect(own('https://example.com/app/out/renderer/index.html')).toBe(false)
    expect(own(undefined)).toBe(false)
    expect(own('not a url')).toBe(false)
  })

  it('built in a folder whose name needs escaping, however the URL escapes it', () => {
    const own = ownPages(undefined, '/opt/100% sure/out/renderer/index.html')
    expect(own('file:///opt/100%25%20sure/out/renderer/index.html')).toBe(true)
    expect(own('file:///opt/100%25 sure/out/renderer/index.html#client')).toBe(true)
    expect(own('file:///opt/100%25/out/renderer/index.html')).toBe(false)
  })

  it('in development: the Vite dev server’s origin only', () => {
    const own = ownPages('http://localhost:5173/', '/unused')
    expect(own('http://localhost:5173/#client')).toBe(true)
    expect(own('http://localhost:5174/')).toBe(false)
    expect(own('http://127.0.0.1:5173/')).toBe(false)
  })
})

describe('files loaded from disk in a packaged app', () => {
  it('come from app.asar.unpacked, on either kind of separator; elsewhere a path is itself', () => {
    expect(unpacked('/opt/Switchboard/resources/app.asar/out/main/load-agent.js', '/')).toBe('/opt/Switchboard/resources/app.asar.unpacked/out/main/load-agent.js')
    expect(unpacked('C:\\Switchboard\\resources\\app.asar\\out\\main\\logic-worker.js', '\\')).toBe('C:\\Switchboard\\resources\\app.asar.unpacked\\out\\main\\logic-worker.js')
    expect(unpacked('/work/main/out/main/load-agent.js', '/')).toBe('/work/main/out/main/load-agent.js')
  })
})
