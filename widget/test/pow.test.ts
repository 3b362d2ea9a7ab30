import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { PowSearch } from "../src/pow";
import { PowAborted, solvePow } from "../src/solver";

function zeroBits(digest: Buffer): number {
  let bits = 0;
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/** The rule of docs/api.md, by brute force with node:crypto: the smallest nonce per puzzle. */
function reference(prefix: string, bits: number, count: number): number[] {
  const nonces: number[] = [];
  for (let i = 0; i < count; i++) {
    let n = 0;
    while (zeroBits(createHash("sha256").update(`${prefix}${i}:${n}`).digest()) < bits) n++;
    nonces.push(n);
  }
  return nonces;
}

test("finds the smallest nonce of each puzzle, as the server's reference solver does", () => {
  for (const [prefix, bits, count] of [
    ["hpow1:3q2-7w_a9d0x0b1T0nYc1Q:", 8, 4],
    ["hpow1:AAAAAAAAAAAAAAAAAAAAAA:", 11, 2],
    ["hpow1:x:", 0, 3],
  ] as const) {
    const search = new PowSearch(prefix, bits, count);
    while (!search.step(1000));
    assert.deepEqual(search.nonces, reference(prefix, bits, count));
    assert.equal(search.hashes, search.nonces.reduce((a, n) => a + n + 1, 0));
  }
});

test("long prefixes take the multi-block path and still agree", () => {
  const prefix = "hpow1:" + "z".repeat(60) + ":";
  const search = new PowSearch(prefix, 6, 2);
  while (!search.step(500));
  assert.deepEqual(search.nonces, reference(prefix, 6, 2));
});

test("count 0 is no work", async () => {
  const result = await solvePow({ algorithm: "sha256-lzb", prefix: "hpow1:x:", bits: 20, count: 0 });
  assert.deepEqual(result.nonces, []);
  assert.equal(result.mode, "none");
});

test("the main-thread fallback solves in slices and reports progress", async () => {
  const seen: number[] = [];
  const result = await solvePow(
    { algorithm: "sha256-lzb", prefix: "hpow1:fallback:", bits: 12, count: 3 },
    { noWorker: true, onProgress: (f) => seen.push(f) },
  );
  assert.equal(result.mode, "main");
  assert.deepEqual(result.nonces, reference("hpow1:fallback:", 12, 3));
  assert.ok(seen.every((f) => f >= 0 && f <= 1));
});

test("abort and timeout stop the search", async () => {
  const hard = { algorithm: "sha256-lzb", prefix: "hpow1:hard:", bits: 40, count: 1 };
  const controller = new AbortController();
  const pending = solvePow(hard, { noWorker: true, signal: controller.signal });
  setTimeout(() => controller.abort(), 20);
  await assert.rejects(pending, (e: unknown) => e instanceof PowAborted && e.reason === "abort");
  await assert.rejects(solvePow(hard, { noWorker: true, timeoutMs: 30 }), (e: unknown) => e instanceof PowAborted && e.reason === "timeout");
});
