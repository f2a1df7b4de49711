import { routingSuite } from '../protocols/support/routing-suite.js'

// Forwards through Credo's dispatcher and the mediator's own forward handler (FAST_FORWARD=false).
routingSuite('false', { pickup: false })
