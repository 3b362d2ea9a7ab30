// The Vue 3 wrappers, as a site uses them, with Haechi's compat scripts in place of the vendors'
// (window.compat names the wrapper and the sitekey; results go to window.calls).
import { createApp, h } from "vue";
import { VueRecaptcha } from "vue-recaptcha";
import VueHcaptcha from "@hcaptcha/vue3-hcaptcha";
import VueTurnstile from "vue-turnstile";

const { wrapper, sitekey, haechi } = window.compat;
const push = (...args) => window.calls.push(args);

const apps = {
  // Preloaded /recaptcha/api.js (its recaptchaHost setting always means https://HOST).
  "vue-recaptcha": () => h(VueRecaptcha, { sitekey, loadRecaptchaScript: false, onVerify: (token) => push("verify", token) }),
  // The wrapper's own setting: apiEndpoint.
  "@hcaptcha/vue3-hcaptcha": () =>
    h(VueHcaptcha, { sitekey, apiEndpoint: `${haechi}/hcaptcha/1/api.js`, sentry: false, onVerify: (token, ekey) => push("verify", token, ekey) }),
  // Preloaded /turnstile/v0/api.js: the component finds window.turnstile and injects nothing.
  "vue-turnstile": () =>
    h(VueTurnstile, { siteKey: sitekey, modelValue: "", action: "login", "onUpdate:modelValue": (token) => token && push("verify", token) }),
};

createApp({ render: apps[wrapper] }).mount("#root");
