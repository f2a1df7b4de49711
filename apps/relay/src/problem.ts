import type { FastifyReply } from 'fastify'

/** RFC 9457 problem details: every refusal on the public port says what was wrong, in JSON. */
export function sendProblem(reply: FastifyReply, status: number, title: string, detail: string): FastifyReply {
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: 'about:blank', title, status, detail })
}
