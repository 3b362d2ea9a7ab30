// Prototype only (not product code): scrypt's ROMix core (Salsa20/8 BlockMix) in plain JS, as a
// widget worker would run it, to time memory-hard proof-of-work evaluations in a browser.
function salsa8(B, x) {
  for (let i = 0; i < 16; i++) x[i] = B[i];
  for (let i = 0; i < 8; i += 2) {
    let u;
    u = x[0] + x[12]; x[4] ^= (u << 7) | (u >>> 25); u = x[4] + x[0]; x[8] ^= (u << 9) | (u >>> 23);
    u = x[8] + x[4]; x[12] ^= (u << 13) | (u >>> 19); u = x[12] + x[8]; x[0] ^= (u << 18) | (u >>> 14);
    u = x[5] + x[1]; x[9] ^= (u << 7) | (u >>> 25); u = x[9] + x[5]; x[13] ^= (u << 9) | (u >>> 23);
    u = x[13] + x[9]; x[1] ^= (u << 13) | (u >>> 19); u = x[1] + x[13]; x[5] ^= (u << 18) | (u >>> 14);
    u = x[10] + x[6]; x[14] ^= (u << 7) | (u >>> 25); u = x[14] + x[10]; x[2] ^= (u << 9) | (u >>> 23);
    u = x[2] + x[14]; x[6] ^= (u << 13) | (u >>> 19); u = x[6] + x[2]; x[10] ^= (u << 18) | (u >>> 14);
    u = x[15] + x[11]; x[3] ^= (u << 7) | (u >>> 25); u = x[3] + x[15]; x[7] ^= (u << 9) | (u >>> 23);
    u = x[7] + x[3]; x[11] ^= (u << 13) | (u >>> 19); u = x[11] + x[7]; x[15] ^= (u << 18) | (u >>> 14);
    u = x[0] + x[3]; x[1] ^= (u << 7) | (u >>> 25); u = x[1] + x[0]; x[2] ^= (u << 9) | (u >>> 23);
    u = x[2] + x[1]; x[3] ^= (u << 13) | (u >>> 19); u = x[3] + x[2]; x[0] ^= (u << 18) | (u >>> 14);
    u = x[5] + x[4]; x[6] ^= (u << 7) | (u >>> 25); u = x[6] + x[5]; x[7] ^= (u << 9) | (u >>> 23);
    u = x[7] + x[6]; x[4] ^= (u << 13) | (u >>> 19); u = x[4] + x[7]; x[5] ^= (u << 18) | (u >>> 14);
    u = x[10] + x[9]; x[11] ^= (u << 7) | (u >>> 25); u = x[11] + x[10]; x[8] ^= (u << 9) | (u >>> 23);
    u = x[8] + x[11]; x[9] ^= (u << 13) | (u >>> 19); u = x[9] + x[8]; x[10] ^= (u << 18) | (u >>> 14);
    u = x[15] + x[14]; x[12] ^= (u << 7) | (u >>> 25); u = x[12] + x[15]; x[13] ^= (u << 9) | (u >>> 23);
    u = x[13] + x[12]; x[14] ^= (u << 13) | (u >>> 19); u = x[14] + x[13]; x[15] ^= (u << 18) | (u >>> 14);
  }
  for (let i = 0; i < 16; i++) B[i] = (B[i] + x[i]) | 0;
}
function blockMix(B, Y, r, X, x) {
  const n = 32 * r;
  for (let i = 0; i < 16; i++) X[i] = B[n - 16 + i];
  for (let i = 0; i < 2 * r; i++) {
    for (let k = 0; k < 16; k++) X[k] ^= B[16 * i + k];
    salsa8(X, x);
    const o = (i & 1 ? r + (i >> 1) : i >> 1) * 16;
    for (let k = 0; k < 16; k++) Y[o + k] = X[k];
  }
  B.set(Y.subarray(0, n));
}
function romix(B, N, r) {
  const n = 32 * r, V = new Int32Array(N * n), Y = new Int32Array(n), X = new Int32Array(16), x = new Int32Array(16);
  for (let i = 0; i < N; i++) { V.set(B, i * n); blockMix(B, Y, r, X, x); }
  for (let i = 0; i < N; i++) {
    const j = B[n - 16] & (N - 1);
    for (let k = 0; k < n; k++) B[k] ^= V[j * n + k];
    blockMix(B, Y, r, X, x);
  }
  return B;
}
function bench(N, r, ms) {
  const B = new Int32Array(32 * r); let evals = 0; const t0 = performance.now();
  while (performance.now() - t0 < ms) { B[0] = evals; romix(B, N, r); evals++; }
  return evals / ((performance.now() - t0) / 1000);
}
if (typeof module !== "undefined") module.exports = { romix, bench };
