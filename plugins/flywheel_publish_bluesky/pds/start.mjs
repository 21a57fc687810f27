// The reference atproto PDS with a local PLC directory (as @atproto/dev-env's TestNetworkNoAppView),
// on 127.0.0.1 only, for flywheel-publish-bluesky's tests.
//
//   node start.mjs INSTALL_DIR
//
// INSTALL_DIR holds node_modules (scripts/install-pds.sh fills it from package-lock.json). Prints one
// JSON line {"url": PDS, "plc": PLC} once both serve, and stops when its standard input closes
// (the test session ended, or died) or on SIGTERM/SIGINT.
import { createRequire } from 'node:module'
import net from 'node:net'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const dir = path.resolve(process.argv[2] || '.')

// Servers in dev-env listen on a bare port, which means every interface: keep them on loopback.
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && (args.length === 1 || typeof args[1] === 'function')) {
    args.splice(1, 0, '127.0.0.1')
  }
  return listen.apply(this, args)
}

// What TestNetworkNoAppView.create() does, from dev-env's own modules: its index also loads the
// app view and Ozone, which takes three times as long to import and is not used here.
const require = createRequire(path.join(dir, 'package.json'))
const devEnv = path.dirname(require.resolve('@atproto/dev-env'))
const load = (name) => import(pathToFileURL(path.join(devEnv, name)).href)
const [{ TestPlc }, { TestPds }, { mockNetworkUtilities }] = await Promise.all(
  ['plc.js', 'pds.js', 'util.js'].map(load),
)
const plc = await TestPlc.create({})
const pds = await TestPds.create({ didPlcUrl: plc.url })
mockNetworkUtilities(pds)
const loopback = (url) => url.replace('//localhost:', '//127.0.0.1:')
process.stdout.write(JSON.stringify({ url: loopback(pds.url), plc: loopback(plc.url) }) + '\n')

let closing = false
const stop = async () => {
  if (closing) return
  closing = true
  try {
    await pds.close()
    await plc.close()
  } finally {
    process.exit(0)
  }
}
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.stdin.resume()
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
