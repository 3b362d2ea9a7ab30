// widget.js: the IIFE build behind <script src="https://captcha.example/v1/widget.js">.
// Query parameters: `render=explicit` (no implicit rendering), `onload=<global function>`.
import { api, config, defineElement, ready, renderAll, scriptBase } from "./registry";
import { startRecorder } from "./telemetry";

declare global {
  interface Window {
    haechi?: typeof api;
  }
}

const script = document.currentScript as HTMLScriptElement | null;
const params = new URL(script?.src || location.href, location.href).searchParams;
config.endpoint = script?.dataset.endpoint || scriptBase(script?.src, /\/v1\/widget[^/]*\.js$/);
config.nonce = script?.nonce ?? "";

if (!window.haechi) {
  window.haechi = api;
  startRecorder();
  defineElement();
  ready(() => {
    if (params.get("render") !== "explicit") renderAll(".haechi");
    const onload = params.get("onload");
    const fn = onload ? (window as unknown as Record<string, unknown>)[onload] : undefined;
    if (typeof fn === "function") fn();
  });
}
