// Verifies one token with one npm library against Haechi and prints what the library reported as
// JSON: {"ok": bool, "codes": [...], "fields": {...}}. Usage: node verify.cjs '<json>' where the
// JSON names {lib, base, sitekey, secret, token} and, for v3 checks, action.
//
// Libraries that hard-code the vendor's host (hcaptcha, express-recaptcha) reach Haechi through
// `viaHaechi`: the HTTPS request for the vendor's host goes to Haechi's alias instead, which is
// what a forwarding proxy does for them in production (docs/api-dialects.md).
"use strict";
const http = require("node:http");
const https = require("node:https");

const { lib, base, sitekey, secret, token, action } = JSON.parse(process.argv[2]);
const haechi = new URL(base);

const ROUTES = {
  "hcaptcha.com": { "/siteverify": "/hcaptcha/siteverify" },
  "www.google.com": { "/recaptcha/api/siteverify": "/recaptcha/api/siteverify" },
};

function viaHaechi() {
  const original = https.request;
  https.request = (options, callback) => {
    const host = options.host || options.hostname;
    const path = ROUTES[host] && ROUTES[host][options.path];
    if (!path) return original(options, callback);
    const { agent: _agent, ...rest } = options;
    return http.request({ ...rest, host: haechi.hostname, hostname: haechi.hostname, port: haechi.port, path }, callback);
  };
}

const done = (ok, codes, fields = {}) => {
  process.stdout.write(JSON.stringify({ ok, codes: codes || [], fields }) + "\n");
};

async function main() {
  switch (lib) {
    case "hcaptcha": {
      viaHaechi();
      const answer = await require("hcaptcha").verify(secret, token);
      return done(answer.success === true, answer["error-codes"], answer);
    }
    case "recaptcha2": {
      const Recaptcha2 = require("recaptcha2");
      const client = new Recaptcha2({ siteKey: sitekey, secretKey: secret });
      client.apiEndpoint = `${base}/recaptcha/api/siteverify`; // the library's own setting
      try {
        return done((await client.validate(token)) === true, []);
      } catch (codes) {
        return done(false, codes);
      }
    }
    case "express-recaptcha-v2":
    case "express-recaptcha-v3": {
      viaHaechi();
      const { RecaptchaV2, RecaptchaV3 } = require("express-recaptcha");
      const Client = lib.endsWith("v2") ? RecaptchaV2 : RecaptchaV3;
      const client = new Client(sitekey, secret);
      return client.verify({ body: { "g-recaptcha-response": token } }, (error, data) =>
        done(!error, error ? [error] : [], data || {}),
      );
    }
    case "recaptcha-node-v2":
    case "recaptcha-node-v3": {
      const { RecaptchaV2, RecaptchaV3 } = require("recaptcha-node");
      const Client = lib.endsWith("v2") ? RecaptchaV2 : RecaptchaV3;
      const client = new Client(secret, { hostname: haechi.hostname, protocol: "http", port: Number(haechi.port) });
      const result = await client.verify(token);
      return done(result.success === true, result.errorCodes, { score: result.score, action: result.action });
    }
    case "nestlab-google-recaptcha": {
      // The module's validator, configured as GoogleRecaptchaModule.forRoot({secretKey, network}) does.
      require("reflect-metadata");
      const root = "@nestlab/google-recaptcha";
      const { GoogleRecaptchaValidator } = require(`${root}/services/validators/google-recaptcha.validator`);
      const { RecaptchaConfigRef } = require(`${root}/models/recaptcha-config-ref`);
      const { Logger } = require("@nestjs/common");
      const config = new RecaptchaConfigRef({ secretKey: secret, network: `${base}/recaptcha/api/siteverify` });
      const validator = new GoogleRecaptchaValidator(require("axios").create(), new Logger(), config);
      const result = await validator.validate({ response: token, action: action || undefined, score: 0 });
      return done(result.success, result.errors, { score: result.score, action: result.action });
    }
    default:
      throw new Error(`unknown library ${lib}`);
  }
}

main().catch((error) => {
  process.stderr.write(String((error && error.stack) || error) + "\n");
  process.exit(2);
});
