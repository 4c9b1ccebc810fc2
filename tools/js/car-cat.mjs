// Reads a CAR file with @ipld/car and writes the UnixFS file under its root with
// ipfs-unixfs-exporter: what an IPFS tool sees in a MetaMesh export.
// usage: node car-cat.mjs FILE.car OUT   prints: ROOT-CID BYTES
import { createReadStream, createWriteStream } from 'node:fs'
import { CarBlockIterator } from '@ipld/car/iterator'
import { exporter } from 'ipfs-unixfs-exporter'

const [car, out] = process.argv.slice(2)
const blocks = await CarBlockIterator.fromIterable(createReadStream(car))
const [root] = await blocks.getRoots()
const held = new Map()
for await (const { cid, bytes } of blocks) {
  held.set(cid.toString(), bytes)
}
// The exporter reads a block as a stream of chunks.
const store = {
  get: async function * (cid) {
    const bytes = held.get(cid.toString())
    if (bytes === undefined) throw new Error(`the CAR file lacks ${cid}`)
    yield bytes
  },
  has: async (cid) => held.has(cid.toString())
}
const entry = await exporter(root, store)
const sink = createWriteStream(out)
let size = 0
for await (const chunk of entry.content()) {
  size += chunk.length
  if (!sink.write(chunk)) await new Promise((resolve) => sink.once('drain', resolve))
}
await new Promise((resolve) => sink.end(resolve))
console.log(`${root.toString()} ${size}`)
