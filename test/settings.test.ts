import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createSettingsFile, parseSettings, SETTINGS_VERSION, type Settings } from '../src/main/host/settings'
import { DEFAULT_LIMITS, DEFAULT_SERVER_CONFIG } from '../src/shared/contract'
import { LOAD_DEFAULTS } from '../src/shared/load'

const tempDir = () => mkdtempSync(join(tmpdir(), 'switchboard-settings-'))

const SETTINGS: Settings = {
  version: SETTINGS_VERSION,
  server: {
    listeners: [{ codec: 'asio', host: '127.0.0.1', port: 7101 }],
    workers: 3,
    workUs: 250,
    cluster: { redis: 'redis://127.0.0.1:6379/2', nodeId: 'node-a' },
    limits: { ...DEFAULT_LIMITS, maxSessions: 50, maxRate: 20, idleTimeoutMs: 0 }
  },
  load: { ...LOAD_DEFAULTS, targets: [{ host: '127.0.0.1', port: 7101 }], codec: 'asio', clients: 12, mode: 'open', rate: 40, durationMs: 2500 }
}

describe('settings in a file', () => {
  it('keeps nothing until saved, then reads back what was saved, leaving no temporary file', async () => {
    const path = join(tempDir(), 'settings.json')
    const first = createSettingsFile(path)
    expect(first.kept).toBeNull()
    expect(first.problem).toBeNull()
    expect(await first.save(SETTINGS)).toBeNull()
    const second = createSettingsFile(path)
    expect(second.problem).toBeNull()
    expect(second.kept).toEqual(SETTINGS)
    expect(readdirSync(join(path, '..'))).toEqual(['settings.json'])
  })

  it('makes the folder it is to be kept in', async () => {
    const path = join(tempDir(), 'not', 'yet', 'settings.json')
    expect(await createSettingsFile(path).save(SETTINGS)).toBeNull()
    expect(createSettingsFile(path).kept).toEqual(SETTINGS)
  })

  it('ends with the last of several saves asked for at once', async () => {
    const path = join(tempDir(), 'settings.json')
    const store = createSettingsFile(path)
    const saves = [1, 2, 3, 4].map((workers) => store.save({ ...SETTINGS, server: { ...SETTINGS.server, workers } }))
    expect(await Promise.all(saves)).toEqual([null, null, null, null])
    expect(createSettingsFile(path).kept!.server.workers).toBe(4)
  })

  it.each([
    ['corrupt JSON', '{"version": 1, "server": {', /could not be used \(not JSON: /],
    ['not an object', '[1, 2]', /could not be used \(not a JSON object\)/],
    ['another version', JSON.stringify({ ...SETTINGS, version: 0 }), /could not be used \(version 0, where this build reads 1\)/],
    ['no version', JSON.stringify({ server: SETTINGS.server, load: null }), /could not be used \(version undefined, where this build reads 1\)/],
    ['a limit out of range', JSON.stringify({ ...SETTINGS, server: { ...SETTINGS.server, limits: { ...DEFAULT_LIMITS, maxSessions: 0 } } }), /server\.limits\.maxSessions: expected a whole number from 1/],
    ['a config without limits', JSON.stringify({ ...SETTINGS, server: { ...DEFAULT_SERVER_CONFIG, limits: undefined } }), /server\.limits: expected an object/],
    ['a bad listener', JSON.stringify({ ...SETTINGS, server: { ...SETTINGS.server, listeners: [{ codec: 'http', host: '127.0.0.1', port: 1 }] } }), /server\.listeners\[0\]\.codec: expected one of line, asio/],
    ['a load run the engine refuses', JSON.stringify({ ...SETTINGS, load: { ...SETTINGS.load, clients: 0 } }), /load: clients must be a whole number from 1/],
    ['a key it does not know', JSON.stringify({ ...SETTINGS, theme: 'dark' }), /unknown keys theme/]
  ])('sets aside %s as FILE.bad, says why, and keeps nothing', (_, text, why) => {
    const path = join(tempDir(), 'settings.json')
    writeFileSync(path, text)
    const store = createSettingsFile(path)
    expect(store.kept).toBeNull()
    expect(store.problem).toMatch(why)
    expect(store.problem).toContain(`settings file ${path} could not be used`)
    expect(store.problem).toContain(`replaced by defaults, the file kept as ${path}.bad`)
    expect(existsSync(path)).toBe(false)
    expect(readFileSync(`${path}.bad`, 'utf8')).toBe(text)
  })

  it('never buries one bad file under another: the second is kept beside the first', () => {
    const path = join(tempDir(), 'settings.json')
    writeFileSync(path, '{ first')
    createSettingsFile(path)
    writeFileSync(path, '{ second')
    expect(createSettingsFile(path).problem).toContain(`the file kept as ${path}.bad.1`)
    expect(readFileSync(`${path}.bad`, 'utf8')).toBe('{ first')
    expect(readFileSync(`${path}.bad.1`, 'utf8')).toBe('{ second')
  })

  it('reads a file with no load run yet', () => {
    expect(parseSettings(JSON.stringify({ ...SETTINGS, load: null })).load).toBeNull()
  })

  it('gives a limit added since the file was written its default, and keeps the limits it holds', () => {
    const { softOutputBytes: _, softOutputMs: __, maxTotalOutputBytes: ___, ...older } = SETTINGS.server.limits
    const read = parseSettings(JSON.stringify({ ...SETTINGS, server: { ...SETTINGS.server, limits: older } }))
    expect(read.server.limits).toEqual(SETTINGS.server.limits)
    expect(() => parseSettings(JSON.stringify({ ...SETTINGS, server: { ...SETTINGS.server, limits: { ...older, maxRate: -1 } } }))).toThrow(/maxRate/)
  })

  it('moves a file from before the soft limit off the old 1 MiB hard default, and keeps a hard limit the user chose', () => {
    const { softOutputBytes: _, softOutputMs: __, maxTotalOutputBytes: ___, ...older } = SETTINGS.server.limits
    const read = (maxOutputBytes: number) => parseSettings(JSON.stringify({ ...SETTINGS, server: { ...SETTINGS.server, limits: { ...older, maxOutputBytes } } })).server.limits
    expect(read(1 << 20).maxOutputBytes).toBe(DEFAULT_LIMITS.maxOutputBytes)
    expect(read(2 << 20).maxOutputBytes).toBe(2 << 20)
    // Written by this build: 1 MiB with a soft limit beside it is a choice, kept.
    expect(parseSettings(JSON.stringify({ ...SETTINGS, server: { ...SETTINGS.server, limits: { ...SETTINGS.server.limits, maxOutputBytes: 1 << 20 } } })).server.limits.maxOutputBytes).toBe(1 << 20)
  })

  it('says why a save failed, and does not throw', async () => {
    const dir = tempDir()
    // A file where its folder should be: no folder can be made there.
    writeFileSync(join(dir, 'blocker'), '')
    const store = createSettingsFile(join(dir, 'blocker', 'settings.json'))
    await expect(store.save(SETTINGS)).resolves.toMatch(/^cannot keep settings in .*blocker\/settings\.json: .*(ENOTDIR|EEXIST)/)
  })
})
