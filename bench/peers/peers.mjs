// The self-hosted peers of bench/peers/run.py, one process each on node:http, with each library's
// documented settings:
//
//   node peers.mjs serve cap    --port P [--preload FILE]
//   node peers.mjs serve altcha --port P
//   node peers.mjs mint  cap    --solves N --tokens N --preload FILE --solve-out FILE --verify-out FILE
//   node peers.mjs mint  altcha --solves N --solve-out FILE
//
// Routes (POST, JSON): /challenge (issue), /solve (Cap: redeemChallenge; ALTCHA: verify the
// widget's payload once, replay store on), /verify (Cap: validateToken, single use; ALTCHA has no
// second step: its payload is verified once, at /solve).
//
// Cap (@cap.js/server 4.0.5): `new Cap({noFSState: true})`, challenges at the library's defaults
// (50 sub-challenges of 32 bytes, difficulty 4), state in memory (the library's own default when no
// storage hooks are given; `noFSState` stops it rewriting a JSON file of every token on each redeem).
// ALTCHA (altcha-lib 2.8.0): the README's settings (PBKDF2/SHA-256, cost 5,000, a counter drawn from
// 5,000-10,000, HMAC-signed challenge and key), the express plugin's verify with a CappedMap replay
// store.
//
// Minting: the benchmark needs thousands of solved challenges. Cap's verification work does not
// depend on the difficulty (50 SHA-256 and 50 PRNG salts per redeem either way; the target's PRNG is
// one xorshift shorter), so minted Cap challenges use difficulty 0 (every nonce 0) and are handed to
// the server at start (--preload), as a database would hold them. ALTCHA's are made with the
// server's own secrets and the README's parameters; with the key signature those settings add, the
// server verifies a solution by two HMACs and never derives the key, so the minter signs a random
// stand-in key instead of deriving one (5,000 PBKDF2 rounds a challenge would take minutes).
import { createServer } from "node:http";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import Cap from "@cap.js/server";
import { createChallenge, randomInt, solveChallenge, CappedMap } from "altcha-lib";
import { deriveKey } from "altcha-lib/algorithms/pbkdf2";
import { create as altchaExpress } from "altcha-lib/frameworks/express";

const [, , command, system, ...rest] = process.argv;
const opts = {};
for (let i = 0; i < rest.length; i += 2) opts[rest[i].replace(/^--/, "")] = rest[i + 1];

const ALTCHA_HMAC = process.env.PB_ALTCHA_HMAC || "bench-hmac-secret";
const ALTCHA_KEY_HMAC = process.env.PB_ALTCHA_KEY_HMAC || "bench-hmac-key-secret";
const altchaParameters = () => ({
  algorithm: "PBKDF2/SHA-256",
  cost: 5_000,
  counter: randomInt(5_000, 10_000),
});

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size > 65_536) reject(new Error("body too large"));
      else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(data) });
  res.end(data);
}

function capHandlers(cap) {
  return {
    "/challenge": async () => cap.createChallenge(),
    "/solve": async (body) => cap.redeemChallenge(body),
    "/verify": async (body) => cap.validateToken(body.response),
  };
}

function altchaHandlers() {
  const store = new CappedMap({ maxSize: 1_000_000 });
  const plugin = altchaExpress({
    deriveKey,
    hmacSignatureSecret: ALTCHA_HMAC,
    hmacKeySignatureSecret: ALTCHA_KEY_HMAC,
    createChallengeParameters: altchaParameters,
    store,
  });
  return {
    "/challenge": async () =>
      createChallenge({
        deriveKey,
        hmacSignatureSecret: ALTCHA_HMAC,
        hmacKeySignatureSecret: ALTCHA_KEY_HMAC,
        ...altchaParameters(),
      }),
    "/solve": async (body) => {
      const result = await plugin.verify(body.altcha, deriveKey, ALTCHA_HMAC, ALTCHA_KEY_HMAC, store);
      return { success: !result.error && !!result.verification?.verified, error: result.error };
    },
  };
}

function serve() {
  let handlers;
  if (system === "cap") {
    const cap = new Cap({ noFSState: true });
    if (opts.preload) {
      const preload = JSON.parse(readFileSync(opts.preload, "utf8"));
      Object.assign(cap.config.state.challengesList, preload.challenges);
      Object.assign(cap.config.state.tokensList, preload.tokens);
    }
    handlers = capHandlers(cap);
  } else if (system === "altcha") {
    handlers = altchaHandlers();
  } else {
    throw new Error(`unknown system ${system}`);
  }
  const server = createServer(async (req, res) => {
    try {
      if (req.url === "/healthz") return send(res, 200, { ok: true });
      const handler = req.method === "POST" ? handlers[req.url] : undefined;
      if (!handler) return send(res, 404, { error: "not found" });
      const raw = await readBody(req);
      const body = raw.length ? JSON.parse(raw) : {};
      send(res, 200, await handler(body));
    } catch (err) {
      send(res, 400, { error: String(err?.message || err) });
    }
  });
  server.keepAliveTimeout = 65_000;
  server.listen(Number(opts.port), "127.0.0.1", () => console.log(`listening ${opts.port}`));
}

// Cap's own PRNG (index.js, not exported): the salt and target of each sub-challenge.
function capPrng(seed, length) {
  let hash = 2166136261;
  for (let i = 0; i < seed.length; i++) {
    hash ^= seed.charCodeAt(i);
    hash += (hash << 1) + (hash << 4) + (hash << 7) + (hash << 8) + (hash << 24);
  }
  let state = hash >>> 0;
  let result = "";
  while (result.length < length) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    result += (state >>> 0).toString(16).padStart(8, "0");
  }
  return result.substring(0, length);
}

function sha256hex(s) {
  return createHash("sha256").update(s).digest("hex");
}

function mintCap() {
  const solves = Number(opts.solves || 0);
  const tokens = Number(opts.tokens || 0);
  const challenges = {};
  const tokenList = {};
  const solveLines = [];
  const verifyLines = [];
  const expires = Date.now() + 3_600_000;
  for (let n = 0; n < solves; n++) {
    const token = randomBytes(25).toString("hex");
    const spec = { c: 50, s: 32, d: 0 };
    challenges[token] = { expires, challenge: spec };
    const solutions = [];
    for (let i = 1; i <= spec.c; i++) {
      const salt = capPrng(`${token}${i}`, spec.s);
      const target = capPrng(`${token}${i}d`, spec.d);
      let nonce = 0;
      while (!sha256hex(salt + nonce).startsWith(target)) nonce++;
      solutions.push(nonce);
    }
    solveLines.push(JSON.stringify({ token, solutions }));
  }
  for (let n = 0; n < tokens; n++) {
    const vertoken = randomBytes(15).toString("hex");
    const id = randomBytes(8).toString("hex");
    tokenList[`${id}:${sha256hex(vertoken)}`] = expires;
    verifyLines.push(JSON.stringify({ response: `${id}:${vertoken}` }));
  }
  writeFileSync(opts.preload, JSON.stringify({ challenges, tokens: tokenList }));
  writeFileSync(opts["solve-out"], solveLines.join("\n") + "\n");
  writeFileSync(opts["verify-out"], verifyLines.join("\n") + "\n");
}

async function mintAltcha() {
  const solves = Number(opts.solves || 0);
  const lines = [];
  const batch = 64;
  const derived = new Map();
  const remembering = async (parameters, salt, password) => {
    const key = Buffer.from(salt).toString("hex") + Buffer.from(password).toString("hex");
    const hit = derived.get(key);
    if (hit) {
      derived.delete(key);
      return hit;
    }
    // A stand-in key: with a key signature (the README's settings) the server checks the solution
    // by HMAC alone and never derives the key, so its work per verify is the same as for a key
    // found by brute force.
    const result = { derivedKey: new Uint8Array(randomBytes(parameters.keyLength || 32)) };
    derived.set(key, result);
    return result;
  };
  for (let done = 0; done < solves; done += batch) {
    const made = await Promise.all(
      Array.from({ length: Math.min(batch, solves - done) }, async () => {
        const parameters = altchaParameters();
        const challenge = await createChallenge({
          deriveKey: remembering,
          hmacSignatureSecret: ALTCHA_HMAC,
          hmacKeySignatureSecret: ALTCHA_KEY_HMAC,
          ...parameters,
        });
        const solution = await solveChallenge({
          challenge,
          deriveKey: remembering,
          counterStart: parameters.counter,
        });
        return JSON.stringify({ altcha: { challenge, solution } });
      }),
    );
    lines.push(...made);
  }
  writeFileSync(opts["solve-out"], lines.join("\n") + "\n");
}

if (command === "serve") serve();
else if (command === "mint" && system === "cap") mintCap();
else if (command === "mint" && system === "altcha") await mintAltcha();
else {
  console.error("usage: node peers.mjs serve|mint cap|altcha [options]");
  process.exit(2);
}
