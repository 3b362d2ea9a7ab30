// SHA-256 in plain JS, tuned for the proof-of-work loop: short ASCII messages that fit one
// 64-byte block. WebCrypto's digest() is async per call, which costs more than the hash itself
// for messages this small, and is missing on plain-HTTP pages; this runs anywhere, worker or not.

/** Round constants, derived (first 32 bits of the fractional parts of the cube roots of the
 * first 64 primes) instead of spelled out, to keep the bundle small; a unit test pins them. */
export const K = new Int32Array(64);
/** Initial hash value (square roots of the first 8 primes). */
export const IV = new Int32Array(8);

(() => {
  const frac = (x: number): number => ((x - Math.floor(x)) * 0x100000000) | 0;
  for (let n = 2, found = 0; found < 64; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) if (n % d === 0) prime = false;
    if (!prime) continue;
    if (found < 8) IV[found] = frac(Math.sqrt(n));
    K[found++] = frac(Math.cbrt(n));
  }
})();

const W = new Int32Array(64);

/** One compression of `w[0..15]` (big-endian words) into `state`, written to `out`. */
export function compress(state: Int32Array, w: Int32Array, out: Int32Array): void {
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15];
    const y = w[i - 2];
    w[i] =
      (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) +
      (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) +
      w[i - 7] +
      w[i - 16];
  }
  let a = state[0];
  let b = state[1];
  let c = state[2];
  let d = state[3];
  let e = state[4];
  let f = state[5];
  let g = state[6];
  let h = state[7];
  for (let i = 0; i < 64; i++) {
    const t1 =
      (h +
        (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
        ((e & f) ^ (~e & g)) +
        K[i] +
        w[i]) |
      0;
    const t2 =
      ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
        ((a & b) ^ (a & c) ^ (b & c))) |
      0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  out[0] = (state[0] + a) | 0;
  out[1] = (state[1] + b) | 0;
  out[2] = (state[2] + c) | 0;
  out[3] = (state[3] + d) | 0;
  out[4] = (state[4] + e) | 0;
  out[5] = (state[5] + f) | 0;
  out[6] = (state[6] + g) | 0;
  out[7] = (state[7] + h) | 0;
}

/** Big-endian words of `bytes` (length a multiple of 64) from word `from` on, into `w`. */
export function loadWords(bytes: Uint8Array, offset: number, w: Int32Array, from = 0): void {
  for (let j = from; j < 16; j++) {
    const p = offset + j * 4;
    w[j] = (bytes[p] << 24) | (bytes[p + 1] << 16) | (bytes[p + 2] << 8) | bytes[p + 3];
  }
}

/** SHA-256 of any message, as eight big-endian words. */
export function sha256Words(message: Uint8Array): Int32Array {
  const length = message.length;
  const blocks = Math.ceil((length + 9) / 64);
  const padded = new Uint8Array(blocks * 64);
  padded.set(message);
  padded[length] = 0x80;
  const bitsHigh = Math.floor(length / 0x20000000);
  const bitsLow = (length * 8) >>> 0;
  const end = padded.length;
  padded[end - 8] = bitsHigh >>> 24;
  padded[end - 7] = bitsHigh >>> 16;
  padded[end - 6] = bitsHigh >>> 8;
  padded[end - 5] = bitsHigh;
  padded[end - 4] = bitsLow >>> 24;
  padded[end - 3] = bitsLow >>> 16;
  padded[end - 2] = bitsLow >>> 8;
  padded[end - 1] = bitsLow;
  const state = IV.slice();
  for (let offset = 0; offset < end; offset += 64) {
    loadWords(padded, offset, W);
    compress(state, W, state);
  }
  return state;
}

/** True when the digest (as words) starts with `bits` zero bits. */
export function hasLeadingZeros(words: Int32Array, bits: number): boolean {
  let k = 0;
  for (; bits >= 32; bits -= 32) if (words[k++] !== 0) return false;
  return bits === 0 || words[k] >>> (32 - bits) === 0;
}
