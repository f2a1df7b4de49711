import type { AgentContext } from '@credo-ts/core'
import {
  DidCommMediationRepository,
  DidCommMediationRole,
  DidCommMediationState,
  DidCommProblemReportError,
  type DidCommConnectionRecord,
  type DidCommMediationRecord,
} from '@credo-ts/didcomm'

/** Problem code of a coordinate-mediation message from a connection without granted mediation. */
export const MEDIATION_NOT_GRANTED = 'mediation_not_granted'

/**
 * The granted mediation record of a connection. Without one the wallet gets a problem report (a
 * clear answer, and no dead letter: the message was understood, it is just not allowed).
 */
export async function getGrantedMediation(
  agentContext: AgentContext,
  connection: DidCommConnectionRecord,
): Promise<DidCommMediationRecord> {
  const records = await agentContext
    .resolve(DidCommMediationRepository)
    .findByQuery(agentContext, { connectionId: connection.id, role: DidCommMediationRole.Mediator })
  const record = records[0]
  if (!record || record.state !== DidCommMediationState.Granted) {
    throw new DidCommProblemReportError(
      `mediation is not granted to this connection (state: ${record?.state ?? 'never requested'})`,
      { problemCode: MEDIATION_NOT_GRANTED },
    )
  }
  return record
}
