import { describe, expect, it } from 'vitest'
import { planSystemTools, SYSTEM_TOOLS, type SystemTool } from '../scripts/system-tools'

const machine = (lacks: string[], { isRoot = true, hasAptGet = true } = {}) => ({
  has: (tool: SystemTool) => !lacks.includes(tool.aptPackage),
  isRoot,
  hasAptGet
})

describe('the system tools npm test needs', () => {
  it('names a Debian package for each tool the tests use: the browser, g++ and Asio, redis-server, promtool', () => {
    expect(new Set(SYSTEM_TOOLS.map((tool) => tool.aptPackage))).toEqual(new Set(['chromium', 'g++', 'libasio-dev', 'libasio-doc', 'redis-server', 'prometheus', 'openssl']))
  })

  it('does nothing when all are there', () => {
    expect(planSystemTools(SYSTEM_TOOLS, machine([]))).toEqual({ kind: 'ready' })
  })

  it('installs what is missing, each package once, as root where apt-get exists', () => {
    expect(planSystemTools(SYSTEM_TOOLS, machine(['chromium', 'libasio-dev', 'libasio-doc']))).toEqual({ kind: 'install', packages: ['chromium', 'libasio-dev', 'libasio-doc'] })
  })

  it('otherwise stops with one line naming what needs them and the exact command', () => {
    const plan = planSystemTools(SYSTEM_TOOLS, machine(['redis-server', 'chromium'], { isRoot: false }))
    expect(plan).toEqual({
      kind: 'stop',
      message: 'npm test: the browser end-to-end tests, the cluster tests need system packages this machine lacks; install them with: sudo apt-get install chromium redis-server'
    })
    const noApt = planSystemTools(SYSTEM_TOOLS, machine(['g++'], { hasAptGet: false }))
    expect(noApt).toMatchObject({ kind: 'stop', message: expect.stringMatching(/with: apt-get install g\+\+$/) })
  })
})
