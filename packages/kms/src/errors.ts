import { Kms } from '@credo-ts/core'

/** Start-up refused: the configured master key is not the one this database's keys were sealed with. */
export class MasterKeyMismatchError extends Kms.KeyManagementError {
  public constructor(schema: string) {
    super(
      `KMS_MASTER_KEY does not match the master key the keys in schema "${schema}" were encrypted with. ` +
        'Refusing to start: with the wrong key no stored private key can be used. Restore the original KMS_MASTER_KEY.',
    )
    this.name = 'MasterKeyMismatchError'
  }
}

/** A KMS call made after `close()`. */
export class KeyManagementClosedError extends Kms.KeyManagementError {
  public constructor() {
    super('The sodium key management service is closed')
    this.name = 'KeyManagementClosedError'
  }
}
