// The `sha256-lzb` proof-of-work rule of docs/api.md: for each puzzle i in 0..count-1 find a
// nonce with SHA-256(prefix + i + ":" + nonce) starting with `bits` zero bits. Shared by the
// worker and the main-thread fallback; it works in slices so either can report progress.
import { IV, compress, hasLeadingZeros, loadWords, sha256Words } from "./sha256";

export interface PowChallenge {
  algorithm: string;
  prefix: string;
  bits: number;
  count: number;
}

const encoder = new TextEncoder();
const MAX_NONCE = 2 ** 53 - 1;

export class PowSearch {
  readonly nonces: number[] = [];
  hashes = 0;
  private nonce = 0;
  private base = new Uint8Array(0);
  private block = new Uint8Array(64);
  private words = new Int32Array(64);
  private out = new Int32Array(8);
  private fixedWords = 0;

  constructor(
    private readonly prefix: string,
    private readonly bits: number,
    private readonly count: number,
  ) {
    this.startPuzzle();
  }

  get done(): boolean {
    return this.nonces.length >= this.count;
  }

  /** Expected number of hashes for the whole search. */
  get expected(): number {
    return this.count * 2 ** this.bits;
  }

  private startPuzzle(): void {
    this.nonce = 0;
    if (this.done) return;
    this.base = encoder.encode(`${this.prefix}${this.nonces.length}:`);
    this.block.fill(0);
    this.block.set(this.base.subarray(0, 64));
    // Words made only of the fixed part are loaded once per puzzle, not once per nonce.
    this.fixedWords = Math.min(16, this.base.length >> 2);
    loadWords(this.block, 0, this.words);
  }

  /** Try up to `budget` nonces; true when every puzzle is solved. */
  step(budget: number): boolean {
    const { base, block, words, out, bits } = this;
    while (!this.done && budget-- > 0) {
      const digits = String(this.nonce);
      const length = base.length + digits.length;
      let ok: boolean;
      if (length <= 55) {
        let p = base.length;
        for (let j = 0; j < digits.length; j++) block[p++] = digits.charCodeAt(j);
        block[p++] = 0x80;
        while (p < 60) block[p++] = 0;
        const bitLength = length * 8;
        block[62] = bitLength >>> 8;
        block[63] = bitLength & 0xff;
        loadWords(block, 0, words, this.fixedWords);
        compress(IV, words, out);
        ok = hasLeadingZeros(out, bits);
      } else {
        ok = hasLeadingZeros(sha256Words(encoder.encode(this.prefix + this.nonces.length + ":" + digits)), bits);
      }
      this.hashes++;
      if (ok) {
        this.nonces.push(this.nonce);
        this.startPuzzle();
      } else if (++this.nonce > MAX_NONCE) {
        throw new Error("pow: nonce space exhausted");
      }
    }
    return this.done;
  }
}
