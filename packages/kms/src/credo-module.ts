import { Kms } from '@credo-ts/core'
import type { SodiumKeyManagementService } from './sodium-kms.js'

/**
 * The Credo module that makes `kms` the agent's key management backend. Pass it as `modules.kms`
 * (the key must be `kms`: it replaces Credo's default KeyManagementModule, which has no backend).
 */
export function sodiumKeyManagementModule(kms: SodiumKeyManagementService): Kms.KeyManagementModule {
  return new Kms.KeyManagementModule({ backends: [kms] })
}
