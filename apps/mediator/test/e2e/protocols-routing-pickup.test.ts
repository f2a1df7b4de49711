import { routingSuite } from '../protocols/support/routing-suite.js'

// Forwards on the fast path (the default), plus pickup v1/v2 and live mode.
routingSuite('true', { pickup: true })
