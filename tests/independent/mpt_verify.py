#!/usr/bin/env python3
"""An independent Merkle Patricia Trie proof verifier, written from docs/FORMATS.md alone.

Reads a proof as `metamesh tools trie-proof` prints it ({root, trieKey, proof}) or as
`mm_getProof` returns it ({stateRoot, trieKey, proof, …}), or a JSON list
of them, on standard input and prints each proven value as 0x-hex, or `absent`, one per line;
a bad proof prints `bad proof: <reason>` on its line, and the exit code is 1 if any was bad.
Usage: mpt_verify.py sm3|keccak < proof.json
Hashes come from Python itself: hashlib's SM3 (OpenSSL 3) and pycryptodome's Keccak-256.
"""
import hashlib
import json
import sys


def hash_fn(name):
    if name == "sm3":
        return lambda data: hashlib.new("sm3", data).digest()
    if name == "keccak":
        from Crypto.Hash import keccak

        def k(data):
            h = keccak.new(digest_bits=256)
            h.update(data)
            return h.digest()

        return k
    raise SystemExit(f"unknown hash {name}")


class BadProof(Exception):
    pass


def rlp_item(data, pos):
    """Decodes one RLP item at data[pos:]; returns (item, next position). Lists are Python lists."""
    if pos >= len(data):
        raise BadProof("truncated RLP")
    b = data[pos]
    if b < 0x80:
        return data[pos:pos + 1], pos + 1
    if b < 0xB8:
        n = b - 0x80
        start, end = pos + 1, pos + 1 + n
        if end > len(data):
            raise BadProof("truncated string")
        return data[start:end], end
    if b < 0xC0:
        ll = b - 0xB7
        n = int.from_bytes(data[pos + 1:pos + 1 + ll], "big")
        start, end = pos + 1 + ll, pos + 1 + ll + n
        if end > len(data):
            raise BadProof("truncated long string")
        return data[start:end], end
    if b < 0xF8:
        n = b - 0xC0
        start = pos + 1
    else:
        ll = b - 0xF7
        n = int.from_bytes(data[pos + 1:pos + 1 + ll], "big")
        start = pos + 1 + ll
    end = start + n
    if end > len(data):
        raise BadProof("truncated list")
    items, p = [], start
    while p < end:
        item, p = rlp_item(data, p)
        items.append(item)
    if p != end:
        raise BadProof("list length mismatch")
    return items, end


def rlp_node(data):
    item, end = rlp_item(data, 0)
    if end != len(data) or not isinstance(item, list):
        raise BadProof("a node must be one RLP list")
    return item


def rlp_encode_length(n, offset):
    if n < 56:
        return bytes([offset + n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(b)]) + b


def rlp_reencode(item):
    """Re-encodes an inline child so it can be walked like a stored node."""
    if isinstance(item, list):
        payload = b"".join(rlp_reencode(i) for i in item)
        return rlp_encode_length(len(payload), 0xC0) + payload
    if len(item) == 1 and item[0] < 0x80:
        return item
    return rlp_encode_length(len(item), 0x80) + item


def nibbles(data):
    out = []
    for b in data:
        out += [b >> 4, b & 0x0F]
    return out


def hex_prefix_decode(encoded):
    if not encoded:
        raise BadProof("empty path")
    flag = encoded[0] >> 4
    if flag > 3:
        raise BadProof("bad hex-prefix flag")
    path = nibbles(encoded)[1:] if flag & 1 else nibbles(encoded[1:])
    return path, bool(flag & 2)


def verify(h, root, key, proof):
    if root == h(b"\x80"):
        return None  # the empty trie holds nothing
    by_hash = {h(node): node for node in proof}
    path = nibbles(key)
    node_bytes = by_hash.get(root)
    if node_bytes is None:
        raise BadProof("the proof lacks the root node")
    node = rlp_node(node_bytes)
    while True:
        if len(node) == 17:
            if not path:
                return node[16] or None
            child, path = node[path[0]], path[1:]
        elif len(node) == 2:
            node_path, leaf = hex_prefix_decode(node[0])
            if leaf:
                return node[1] if node_path == path else None
            if path[:len(node_path)] != node_path:
                return None
            child, path = node[1], path[len(node_path):]
        else:
            raise BadProof(f"a node has {len(node)} items")
        if isinstance(child, list):
            node = rlp_node(rlp_reencode(child))
        elif child == b"":
            return None
        elif len(child) == 32:
            if child not in by_hash:
                raise BadProof("the proof lacks a node on the path")
            node = rlp_node(by_hash[child])
        else:
            raise BadProof("a child reference is neither empty, a hash nor an inline node")


def main():
    h = hash_fn(sys.argv[1])
    doc = json.load(sys.stdin)
    docs = doc if isinstance(doc, list) else [doc]
    unhex = lambda s: bytes.fromhex(s[2:])
    failed = False
    for d in docs:
        try:
            root = d.get("root") or d["stateRoot"]  # tools trie-proof, or mm_getProof
            value = verify(h, unhex(root), unhex(d["trieKey"]), [unhex(n) for n in d["proof"]])
            print("absent" if value is None else "0x" + value.hex())
        except BadProof as e:
            print(f"bad proof: {e}")
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
