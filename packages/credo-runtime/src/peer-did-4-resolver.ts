import {
  DidDocument,
  DidRepository,
  JsonTransformer,
  MultiBaseEncoder,
  MultiHashEncoder,
  PeerDidNumAlgo,
  PeerDidResolver,
  TypedArrayEncoder,
  getNumAlgoFromPeerDid,
  isValidPeerDid,
  parseDid,
  type AgentContext,
  type DidResolutionResult,
} from '@credo-ts/core'
import { decodeBase58 } from './base58.js'

// As Credo's peerDidNumAlgo4: the short form is the hash, the long form adds the encoded document.
const LONG_FORM = /^did:peer:4(z[1-9a-km-zA-HJ-NP-Z]{46}):(z[1-9a-km-zA-HJ-NP-Z]{6,})$/
const SHORT_FORM = /^did:peer:4(z[1-9a-km-zA-HJ-NP-Z]{46})$/
/** The JSON multicodec (0x0200) as its two varint bytes, which start every encoded document. */
const JSON_MULTICODEC = [0x80, 0x04] as const

type DocumentJson = Record<string, unknown>

/**
 * Credo's did:peer resolver, with did:peer:4 documents decoded in a fraction of the time. Every
 * mediator connection has a long-form did:peer:4 of its own, and Credo decodes its base58 document in
 * a pure JavaScript loop whose time grows with the square of its length: about 15% of a worker's CPU
 * while wallets go live, the largest single cost of a wallet's first message on a worker. This class
 * does the same steps as Credo's `didToNumAlgo4DidDocument` (hash check, multicodec check, JSON, `id`,
 * `alsoKnownAs`, controllers, `DidDocument` through JsonTransformer) with `decodeBase58`, and hands
 * anything it did not resolve itself (other numalgos, a DID that does not decode, a short form without
 * a record) to Credo's own code, so every error is Credo's, worded and logged as Credo does.
 *
 * It is a PeerDidResolver, so Credo's DidsModule does not add its own beside it.
 */
export class FastPeerDidResolver extends PeerDidResolver {
  public override async resolve(agentContext: AgentContext, did: string): Promise<DidResolutionResult> {
    if (!isValidPeerDid(did) || getNumAlgoFromPeerDid(did) !== PeerDidNumAlgo.ShortFormAndLongForm) {
      return super.resolve(agentContext, did)
    }
    let longForm = did
    if (SHORT_FORM.test(did)) {
      const [record] = await agentContext.dependencyManager.resolve(DidRepository).findAllByDid(agentContext, did)
      if (!record) return super.resolve(agentContext, did)
      longForm = record.did
    }
    const didDocument = numAlgo4Document(longForm)
    if (!didDocument) return super.resolve(agentContext, did)
    return { didDocument, didDocumentMetadata: {}, didResolutionMetadata: { contentType: 'application/did+ld+json' } }
  }
}

/** The document of a long-form did:peer:4, as Credo builds it; undefined where Credo's would throw. */
export function numAlgo4Document(did: string): DidDocument | undefined {
  let parsedDid: string
  let json: DocumentJson
  try {
    parsedDid = parseDid(did).did
    const match = LONG_FORM.exec(parsedDid)
    if (!match) return undefined
    const [, hash, encodedDocument] = match as unknown as [string, string, string]
    const digest = MultiHashEncoder.encode(TypedArrayEncoder.fromString(encodedDocument), 'sha-256')
    if (hash !== MultiBaseEncoder.encode(digest, 'base58btc')) return undefined
    const data = decodeBase58(encodedDocument.slice(1))
    if (data[0] !== JSON_MULTICODEC[0] || data[1] !== JSON_MULTICODEC[1]) return undefined
    json = JSON.parse(Buffer.from(data.buffer, data.byteOffset + 2, data.byteLength - 2).toString('utf-8')) as DocumentJson
    if (json === null || typeof json !== 'object') return undefined
  } catch {
    return undefined
  }
  json.id = parsedDid
  // Credo slices the parsed DID at the input's last ':' (the same string for the bare DIDs resolvers get).
  json.alsoKnownAs = [parsedDid.slice(0, did.lastIndexOf(':'))]
  const addControllerIfMissing = (item: unknown): void => {
    if (Array.isArray(item)) item.forEach(addControllerIfMissing)
    if (item && typeof item === 'object' && (item as DocumentJson).controller === undefined) (item as DocumentJson).controller = parsedDid
  }
  for (const relation of ['verificationMethod', 'authentication', 'assertionMethod', 'keyAgreement', 'capabilityDelegation', 'capabilityInvocation']) {
    addControllerIfMissing(json[relation])
  }
  try {
    return JsonTransformer.fromJSON(json, DidDocument)
  } catch {
    return undefined
  }
}
