import { describe, expect, it } from 'vitest'
import { ownPages } from '../src/main/shell/own-pages'

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

  it('in development: the Vite dev server’s origin only', () => {
    const own = ownPages('http://localhost:5173/', '/unused')
    expect(own('http://localhost:5173/#client')).toBe(true)
    expect(own('http://localhost:5174/')).toBe(false)
    expect(own('http://127.0.0.1:5173/')).toBe(false)
  })
})
