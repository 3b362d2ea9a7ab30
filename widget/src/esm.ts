// widget.esm.js: `import { render } from "https://captcha.example/v1/widget.esm.js"`. The
// endpoint defaults to where the module was loaded from; pass `endpoint` to render() otherwise.
import { api, config, defineElement, scriptBase } from "./registry";
import { startRecorder } from "./telemetry";

config.endpoint = scriptBase(import.meta.url, /\/v1\/widget[^/]*\.js$/);
startRecorder();
defineElement();

export const { render, execute, reset, getResponse, isExpired, remove, ready } = api;
export { renderAll } from "./registry";
