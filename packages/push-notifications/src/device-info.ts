import { z } from 'zod'

/** The push services a wallet can register a device with (RFC 0734 and RFC 0699). */
export type PushService = 'fcm' | 'apns'

/** Tokens longer than this are refused: real FCM tokens are about 160 characters, APNs ones 64. */
export const MAX_DEVICE_TOKEN_LENGTH = 1024

/** Platforms RFC 0734 names for `device_platform`. */
export const FCM_PLATFORMS = ['android', 'ios', 'web'] as const
export type FcmPlatform = (typeof FCM_PLATFORMS)[number]

const fcmToken = z
  .string({ message: 'device_token must be a string or null' })
  .min(1, 'device_token must not be empty')
  .max(MAX_DEVICE_TOKEN_LENGTH, `device_token must be at most ${MAX_DEVICE_TOKEN_LENGTH} characters`)
  .regex(/^[\x21-\x7e]+$/, 'device_token must be printable ASCII without spaces')

const apnsToken = z
  .string({ message: 'device_token must be a string or null' })
  .max(MAX_DEVICE_TOKEN_LENGTH, `device_token must be at most ${MAX_DEVICE_TOKEN_LENGTH} characters`)
  .regex(/^[0-9a-fA-F]{64,200}$/, 'device_token must be the hexadecimal APNs device token (64 to 200 digits)')
  .transform((token) => token.toLowerCase())

/**
 * set-device-info of push-notifications-fcm/1.0: a token and its platform, or both null to stop
 * notifications (RFC 0734).
 */
export const fcmSetDeviceInfoSchema = z.union([
  z.object({ device_token: z.null(), device_platform: z.null().optional() }).transform(() => null),
  z.object({
    device_token: fcmToken,
    device_platform: z.enum(FCM_PLATFORMS, {
      message: `device_platform must be one of ${FCM_PLATFORMS.join(', ')}`,
    }),
  }),
])

/** set-device-info of push-notifications-apns/1.0: a token, or null to stop notifications (RFC 0699). */
export const apnsSetDeviceInfoSchema = z.union([
  z.object({ device_token: z.null() }).transform(() => null),
  z.object({ device_token: apnsToken }),
])

export interface DeviceInfo {
  service: PushService
  token: string
  /** FCM only. */
  platform?: FcmPlatform
}

export type DeviceInfoInput = { service: 'fcm'; fields: unknown } | { service: 'apns'; fields: unknown }

/**
 * Validates what a wallet sent in set-device-info. `null` means "remove"; an error is a message for
 * the problem report, naming the field.
 */
export function parseDeviceInfo(input: DeviceInfoInput): { ok: true; value: DeviceInfo | null } | { ok: false; error: string } {
  if (input.service === 'fcm') {
    const parsed = fcmSetDeviceInfoSchema.safeParse(input.fields)
    if (!parsed.success) return { ok: false, error: describe(parsed.error) }
    if (parsed.data === null) return { ok: true, value: null }
    return { ok: true, value: { service: 'fcm', token: parsed.data.device_token, platform: parsed.data.device_platform } }
  }
  const parsed = apnsSetDeviceInfoSchema.safeParse(input.fields)
  if (!parsed.success) return { ok: false, error: describe(parsed.error) }
  if (parsed.data === null) return { ok: true, value: null }
  return { ok: true, value: { service: 'apns', token: parsed.data.device_token } }
}

/** The most specific message of a union failure: the branch the wallet evidently meant. */
function describe(error: z.ZodError): string {
  const messages = new Set<string>()
  const collect = (issues: readonly z.core.$ZodIssue[]) => {
    for (const issue of issues) {
      if (issue.code === 'invalid_union') for (const branch of issue.errors) collect(branch)
      else messages.add(issue.message)
    }
  }
  collect(error.issues)
  // The "null" branch's complaints only matter when the wallet sent nothing usable at all.
  const specific = [...messages].filter((m) => !/expected null/i.test(m) && !/Invalid input/.test(m))
  return (specific.length > 0 ? specific : [...messages]).join('; ')
}
