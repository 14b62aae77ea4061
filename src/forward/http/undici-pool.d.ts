// Types for the deep import of undici's Pool (see forwarder.ts): the same class undici's
// index exports.
declare module 'undici/lib/dispatcher/pool.js' {
  import { Pool } from 'undici'
  export default Pool
}
