// The helper lives in @mediator/test-support; re-exported for the harness's own imports.
export { freePort } from '@mediator/test-support'
