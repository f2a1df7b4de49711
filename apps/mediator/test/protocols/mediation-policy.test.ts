import { describe, expect, it } from 'vitest'
import { MediationPolicy } from '../../src/protocols/index.js'

describe('mediation policy', () => {
  it('open grants everyone', () => {
    const policy = MediationPolicy.fromConfig({ MEDIATION_POLICY: 'open', MEDIATION_ALLOW_LIST: [] })
    expect(policy.decide({ theirLabel: undefined, theirDid: undefined }).grant).toBe(true)
  })

  it('allow-list grants an exact label or DID and denies the rest', () => {
    const policy = MediationPolicy.fromConfig({
      MEDIATION_POLICY: 'allow-list',
      MEDIATION_ALLOW_LIST: [' alice ', 'did:peer:2.Ez6LSexample', ''],
    })
    expect(policy.decide({ theirLabel: 'alice', theirDid: 'did:peer:4zQm' })).toMatchObject({ grant: true })
    expect(policy.decide({ theirLabel: 'bob', theirDid: 'did:peer:2.Ez6LSexample' })).toMatchObject({ grant: true })
    expect(policy.decide({ theirLabel: 'Alice', theirDid: 'did:peer:4zQm' }).grant).toBe(false)
    expect(policy.decide({ theirLabel: 'alice2', theirDid: undefined }).grant).toBe(false)
    expect(policy.decide({ theirLabel: '', theirDid: undefined }).grant).toBe(false)
  })
})
