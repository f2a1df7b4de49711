import { describe, expect, it } from 'vitest'
import { MAX_DEVICE_TOKEN_LENGTH, parseDeviceInfo } from '../src/index.js'

describe('parseDeviceInfo', () => {
  it('accepts an FCM token and platform, and null/null as removal', () => {
    expect(parseDeviceInfo({ service: 'fcm', fields: { device_token: 'abc:DEF-123_x', device_platform: 'android' } })).toEqual({
      ok: true,
      value: { service: 'fcm', token: 'abc:DEF-123_x', platform: 'android' },
    })
    expect(parseDeviceInfo({ service: 'fcm', fields: { device_token: null, device_platform: null } })).toEqual({ ok: true, value: null })
  })

  it('accepts an APNs hex token (lower-cased) and null as removal', () => {
    expect(parseDeviceInfo({ service: 'apns', fields: { device_token: 'AB'.repeat(32) } })).toEqual({
      ok: true,
      value: { service: 'apns', token: 'ab'.repeat(32) },
    })
    expect(parseDeviceInfo({ service: 'apns', fields: { device_token: null } })).toEqual({ ok: true, value: null })
  })

  it.each([
    ['a number as token', 'fcm', { device_token: 42, device_platform: 'android' }, /device_token must be a string/],
    ['a huge token', 'fcm', { device_token: 'x'.repeat(MAX_DEVICE_TOKEN_LENGTH + 1), device_platform: 'android' }, /at most 1024/],
    ['an unknown platform', 'fcm', { device_token: 'abc', device_platform: 'symbian' }, /device_platform must be one of android, ios, web/],
    ['a token with spaces', 'fcm', { device_token: 'a b', device_platform: 'ios' }, /printable ASCII/],
    ['no fields', 'fcm', {}, /device_token/],
    ['a non-hex APNs token', 'apns', { device_token: 'zz'.repeat(32) }, /hexadecimal/],
    ['an APNs token as object', 'apns', { device_token: { t: 1 } }, /must be a string/],
  ] as const)('refuses %s with a message naming the field', (_what, service, fields, message) => {
    const result = parseDeviceInfo({ service, fields })
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.error).toMatch(message)
  })
})
