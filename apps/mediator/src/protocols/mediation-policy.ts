import type { DidCommConnectionRecord } from '@credo-ts/didcomm'

export type MediationPolicyName = 'open' | 'allow-list'

export interface MediationDecision {
  grant: boolean
  /** Why, for the logs. */
  reason: string
}

/**
 * Who gets mediation. `open` grants every request. `allow-list` grants a connection whose label (the
 * label the wallet sent in its connection or DID exchange request) or whose DID (the wallet's DID on
 * this connection) is listed exactly; everyone else is denied. A label is self-asserted, so the list
 * is a way to limit who uses the mediator by accident, not an authentication; DIDs are only stable
 * for wallets that reuse a public or long-lived DID.
 */
export class MediationPolicy {
  private readonly allowed: ReadonlySet<string>

  public constructor(
    public readonly name: MediationPolicyName,
    allowList: readonly string[] = [],
  ) {
    this.allowed = new Set(allowList.map((entry) => entry.trim()).filter((entry) => entry.length > 0))
  }

  public static fromConfig(config: { MEDIATION_POLICY: MediationPolicyName; MEDIATION_ALLOW_LIST: readonly string[] }) {
    return new MediationPolicy(config.MEDIATION_POLICY, config.MEDIATION_ALLOW_LIST)
  }

  public decide(connection: Pick<DidCommConnectionRecord, 'theirLabel' | 'theirDid'>): MediationDecision {
    if (this.name === 'open') return { grant: true, reason: 'policy open' }
    if (connection.theirLabel !== undefined && this.allowed.has(connection.theirLabel)) {
      return { grant: true, reason: 'label on the allow list' }
    }
    if (connection.theirDid !== undefined && this.allowed.has(connection.theirDid)) {
      return { grant: true, reason: 'DID on the allow list' }
    }
    return { grant: false, reason: 'neither label nor DID on the allow list' }
  }
}
