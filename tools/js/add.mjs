// The JS UnixFS importer (ipfs-unixfs-importer, used by Helia) on one file, as `ipfs add`
// would cut it; blocks are hashed and dropped, like `metamesh data add --only-hash`.
// usage: node add.mjs FILE [cid-version 0|1]   prints: CID SECONDS
import { createReadStream } from 'node:fs'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'

const [file, version = '0'] = process.argv.slice(2)
const v1 = version === '1'
const sink = { put: async (cid) => cid, has: async () => false }
const started = process.hrtime.bigint()
let root
for await (const entry of importer([{ content: createReadStream(file, { highWaterMark: 1 << 20 }) }], sink, {
  cidVersion: v1 ? 1 : 0,
  rawLeaves: v1,
  chunker: fixedSize({ chunkSize: 262144 }),
  layout: balanced({ maxChildrenPerNode: 174 }),
  reduceSingleLeafToSelf: true,
  wrapWithDirectory: false
})) {
  root = entry.cid
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9
console.log(`${root.toString()} ${seconds}`)
