import { describe, expect, it } from 'vitest'
import { canonicalHost, isLoopback } from '../src/main/core/net/address'

describe('addresses', () => {
  it('spells each address one way: IPv4 mapped into IPv6 as IPv4, brackets and case dropped, names left names', () => {
    expect(canonicalHost('LocalHost')).toBe('localhost')
    expect(canonicalHost('::ffff:127.0.0.1')).toBe('127.0.0.1')
    expect(canonicalHost('::FFFF:10.1.2.3')).toBe('10.1.2.3')
    expect(canonicalHost('[::1]')).toBe('::1')
    expect(canonicalHost('example.test')).toBe('example.test')
  })

  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:10.0.0.1', false],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.1', false],
    ['127.example.test', false]
  ])('%s is loopback: %s', (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback)
  })
})
