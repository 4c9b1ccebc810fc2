// The JS UnixFS importer on a directory tree, as `ipfs add -r DIR` would build it (HAMT
// sharding past the default threshold); blocks are hashed and dropped.
// usage: node add-dir.mjs DIR [cid-version 0|1 | unixfs-v1-2025]   prints: CID
import { createReadStream, readdirSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { importer } from 'ipfs-unixfs-importer'

const [dir, mode = '0'] = process.argv.slice(2)
const options = mode === 'unixfs-v1-2025'
  ? { profile: 'unixfs-v1-2025' }
  : { profile: 'unixfs-v0-2015', cidVersion: mode === '1' ? 1 : 0, rawLeaves: mode === '1' }

function * entries (path, name) {
  for (const child of readdirSync(path).sort()) {
    const full = join(path, child)
    const rel = `${name}/${child}`
    if (statSync(full).isDirectory()) {
      yield { path: rel }
      yield * entries(full, rel)
    } else {
      yield { path: rel, content: createReadStream(full) }
    }
  }
}

const sink = { put: async (cid) => cid, has: async () => false }
const top = basename(dir)
let root
for await (const entry of importer([{ path: top }, ...entries(dir, top)], sink, { ...options, wrapWithDirectory: false })) {
  if (entry.path === top) root = entry.cid
}
console.log(root.toString())
