// The vendors' React wrappers, as a site uses them, with Haechi's compat scripts in place of the
// vendors' (window.compat names the wrapper and the sitekey; results go to window.calls).
import { createRoot } from "react-dom/client";
import { useEffect } from "react";
import ReCAPTCHA from "react-google-recaptcha";
import { GoogleReCaptchaProvider, useGoogleReCaptcha } from "react-google-recaptcha-v3";
import HCaptcha from "@hcaptcha/react-hcaptcha";
import { Turnstile } from "@marsidev/react-turnstile";

const { wrapper, sitekey, haechi } = window.compat;
const push = (...args) => window.calls.push(args);

function V3Form() {
  const { executeRecaptcha } = useGoogleReCaptcha();
  useEffect(() => {
    if (executeRecaptcha) executeRecaptcha("signup").then((token) => push("v3", token));
  }, [executeRecaptcha]);
  return null;
}

const apps = {
  // Preloaded /recaptcha/api.js: react-async-script uses the grecaptcha it finds.
  "react-google-recaptcha": () => <ReCAPTCHA sitekey={sitekey} onChange={(token) => push("change", token)} />,
  // Preloaded /recaptcha/api.js?render=KEY with the provider's script id.
  "react-google-recaptcha-v3": () => (
    <GoogleReCaptchaProvider reCaptchaKey={sitekey}>
      <V3Form />
    </GoogleReCaptchaProvider>
  ),
  // The wrapper's own setting: apihost (it loads `${apihost}/1/api.js`).
  "@hcaptcha/react-hcaptcha": () => (
    <HCaptcha sitekey={sitekey} apihost={`${haechi}/hcaptcha`} sentry={false} onVerify={(token, ekey) => push("verify", token, ekey)} />
  ),
  // Preloaded /turnstile/v0/api.js with the wrapper's script id, injectScript off.
  "@marsidev/react-turnstile": () => (
    <Turnstile siteKey={sitekey} injectScript={false} options={{ action: "login", cData: "react-1" }} onSuccess={(token) => push("success", token)} />
  ),
};

const App = apps[wrapper];
createRoot(document.getElementById("root")).render(<App />);
