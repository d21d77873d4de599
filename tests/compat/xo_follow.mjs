// Xen Orchestra's XenAPI client (npm xen-api, pinned in package.json)
// pointed at a slave of a pool: its login gets HOST_IS_SLAVE with the
// master's address and the client follows it. Checks that it ends up
// connected (a slave knows no session: a call that succeeds went to the
// master) and that the pool's master has the address expected.
//
// usage: node xo_follow.mjs SLAVE_URL USER PASSWORD MASTER_ADDRESS
// exit:  0 when it followed, 1 otherwise.

import { createClient } from 'xen-api'

const [url, user, password, expect] = process.argv.slice(2)
if (!url || !user || password === undefined || !expect) {
  console.error('usage: node xo_follow.mjs SLAVE_URL USER PASSWORD MASTER_ADDRESS')
  process.exit(2)
}

const xapi = createClient({ url, auth: { user, password }, allowUnauthorized: true, watchEvents: false })
let failed = false
try {
  await xapi.connect()
  const master = await xapi.call('host.get_address', xapi.pool.master)
  console.log(`connected through ${url}: now at ${xapi._url.hostname}, pool master ${master}`)
  if (master !== expect) {
    console.log(`FAIL: the pool's master is ${master}, expected ${expect}`)
    failed = true
  }
  if (xapi._url.hostname !== expect) {
    console.log(`FAIL: the client talks to ${xapi._url.hostname}, expected ${expect}`)
    failed = true
  }
} catch (error) {
  console.log(`FAIL: ${error?.code ?? ''} ${error?.params ?? ''} ${error?.message ?? error}`)
  failed = true
} finally {
  await xapi.disconnect().catch(() => {})
}
process.exit(failed ? 1 : 0)
