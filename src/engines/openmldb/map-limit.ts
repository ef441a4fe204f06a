/** The shared concurrency limiter (src/util/map-limit.ts), where this engine's modules import it from. */
export {mapLimit} from '../../util/map-limit.js'
