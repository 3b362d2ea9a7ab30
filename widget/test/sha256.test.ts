import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";
import { IV, K, hasLeadingZeros, sha256Words } from "../src/sha256";

const hex = (words: Int32Array): string => Array.from(words, (w) => (w >>> 0).toString(16).padStart(8, "0")).join("");

test("derived round constants are the standard ones", () => {
  assert.equal((K[0] >>> 0).toString(16), "428a2f98");
  assert.equal((K[63] >>> 0).toString(16), "c67178f2");
  assert.equal((IV[0] >>> 0).toString(16), "6a09e667");
  assert.equal((IV[7] >>> 0).toString(16), "5be0cd19");
  // The whole table, through digests of known messages.
  assert.equal(hex(sha256Words(new Uint8Array())), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(hex(sha256Words(new TextEncoder().encode("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
});

test("matches node:crypto for every length from 0 to 300 bytes", () => {
  for (let n = 0; n <= 300; n++) {
    const data = randomBytes(n);
    assert.equal(hex(sha256Words(data)), createHash("sha256").update(data).digest("hex"), `length ${n}`);
  }
});

test("leading zero bits", () => {
  const words = new Int32Array([0x00000000, 0x0fffffff, 0, 0, 0, 0, 0, 0]);
  assert.ok(hasLeadingZeros(words, 0));
  assert.ok(hasLeadingZeros(words, 32));
  assert.ok(hasLeadingZeros(words, 36));
  assert.ok(!hasLeadingZeros(words, 37));
  assert.ok(hasLeadingZeros(new Int32Array([0x1fffffff]), 3));
  assert.ok(!hasLeadingZeros(new Int32Array([0x1fffffff]), 4));
});
