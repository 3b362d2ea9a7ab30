/** English strings. Every key here must exist in ko.ts too (the type checker enforces it). */
export const en = {
  "app.name": "Haechi",
  "app.skip": "Skip to content",
  "nav.main": "Main",
  "nav.home": "Home",
  "nav.pricing": "Pricing",
  "nav.docs": "Docs",
  "nav.signin": "Sign in",
  "nav.signup": "Sign up",
  "nav.language": "Language",
  "footer.text": "Haechi is open source (Apache-2.0) and runs on your own servers.",
  "footer.demo": "Demo form",
  "footer.api": "API reference",

  "landing.title": "CAPTCHA that stays out of people's way",
  "landing.lead":
    "Haechi is an open-source, self-hostable, AI-powered CAPTCHA. One script tag on your page and one server-side check: clear humans pass without a puzzle, bots are made to pay or are blocked.",
  "landing.cta.start": "Get started",
  "landing.cta.docs": "Read the docs",
  "landing.ladder.title": "Friction only where it is earned",
  "landing.ladder.lead":
    "A behaviour model scores every visitor from 0 (surely human) to 100 (surely bot); the site's security level and the current attack level turn that score into one step of this ladder.",
  "landing.ladder.invisible": "Invisible",
  "landing.ladder.invisible.text": "Clear humans pass with a light proof-of-work they never see.",
  "landing.ladder.pow": "Proof-of-work",
  "landing.ladder.pow.text": "Most visitors: a short computation in a Web Worker, a progress bar at most.",
  "landing.ladder.visual": "Visual challenge",
  "landing.ladder.visual.text":
    "Suspicious clients: an image grid, abstract images or handwriting, with an audio alternative.",
  "landing.ladder.block": "Block",
  "landing.ladder.block.text": "Clear bots are refused before any work is spent on them.",
  "landing.demo.title": "Try the widget",
  "landing.demo.lead":
    "This is the real widget, served by this Haechi server with its demo site. Solve it to get a token; the demo form also verifies the token on the server.",
  "landing.demo.passed": "Passed: the widget issued a token ({length} characters). Your server would now call /siteverify with it.",
  "landing.demo.expired": "The token expired; the widget will ask again.",
  "landing.demo.error": "The widget reported an error: {code}",
  "landing.demo.unavailable": "The demo site is not available on this server (it exists in the embedded all-in-one mode).",
  "landing.demo.full": "Open the full demo form (server-side verification)",
  "landing.features.title": "What you get",
  "landing.features.compat": "Drop-in for reCAPTCHA, hCaptcha and Turnstile: change only the URL your server calls.",
  "landing.features.selfhost": "One process on a laptop, or Kubernetes with PostgreSQL, Redis and S3.",
  "landing.features.privacy": "No third-party tracking: telemetry is scored and discarded, never sold.",
  "landing.features.a11y": "Keyboard, touch and screen-reader visitors get through, in Korean or English.",

  "pricing.title": "Pricing",
  "pricing.selfhosted.title": "Self-hosted: free",
  "pricing.selfhosted.text":
    "This Haechi server has no plans configured. On a self-hosted install every feature is available without limits; the operator can turn plans on to bill customers.",
  "pricing.selfhosted.cta": "Install Haechi",

  "docs.title": "Documentation",
  "docs.search": "Search the docs",
  "docs.search.results": "{count} results",
  "docs.search.none": "Nothing matches “{query}”.",
  "docs.list": "All documents",
  "docs.notfound": "There is no document at this address.",
  "docs.loading": "Loading…",

  "form.email": "E-mail",
  "form.password": "Password",
  "form.password.new": "New password",
  "form.name": "Your name",
  "form.required": "Required.",
  "form.email.invalid": "Enter an e-mail address such as name@example.com.",
  "form.password.short": "Use at least 10 characters.",
  "form.submit.failed": "The server refused the request: {detail}",
  "form.network": "The server could not be reached. Try again.",

  "auth.signin.title": "Sign in",
  "auth.signup.title": "Create your account",
  "auth.verify.title": "Verify your e-mail",
  "auth.forgot.title": "Reset your password",
  "auth.reset.title": "Choose a new password",
  "auth.unavailable":
    "This server does not offer accounts yet: its platform API has no sign-in endpoints. Sites are managed with the `haechi sites` command until then.",
  "auth.signin.forgot": "Forgot your password?",
  "auth.signin.new": "New to Haechi? Create an account",
  "auth.signup.have": "Already have an account? Sign in",

  "notfound.title": "Page not found",
  "notfound.text": "There is nothing at this address.",
  "notfound.home": "Back to the home page",
} as const;

export type MessageKey = keyof typeof en;
export type Messages = Record<MessageKey, string>;
