import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const RENDERER = resolve('out/renderer')
const html = () => readFileSync(join(RENDERER, 'index.html'), 'utf8')
const entry = () => readFileSync(join(RENDERER, /<script[^>]+src="\.?\/?([^"]+)"/.exec(html())![1]), 'utf8')
const chunks = () => readdirSync(join(RENDERER, 'assets')).filter((file) => file.endsWith('.js'))

describe('the built renderer (npm test builds first)', () => {
  it('loads the charts (uPlot) and the sessions table lazily, not with the page', () => {
    // Strings minification keeps: uPlot's root class, the sessions table's name.
    expect(entry()).not.toContain('"uplot"')
    expect(entry()).not.toContain('live sessions')
    const lazy = chunks().map((file) => readFileSync(join(RENDERER, 'assets', file), 'utf8'))
    expect(lazy.some((code) => code.includes('"uplot"'))).toBe(true)
    expect(lazy.some((code) => code.includes('live sessions'))).toBe(true)
  })

  it('is minified', () => {
    // One long line per module rather than the source's indentation.
    expect(entry().split('\n').length).toBeLessThan(50)
  })

  it('names an icon of its own, so a browser asks for no /favicon.ico', () => {
    const icon = /<link rel="icon"[^>]+href="\.?\/?([^"]+)"/.exec(html())
    expect(icon).not.toBeNull()
    expect(readFileSync(join(RENDERER, icon![1]), 'utf8')).toContain('<svg')
  })
})
