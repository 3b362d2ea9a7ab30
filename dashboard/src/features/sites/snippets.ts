/** The code a site owner copies: the script tag and a server-side check in a few languages. */
export interface SnippetInput {
  origin: string;
  sitekey: string;
}

export type SnippetKind = "html" | "python" | "node" | "php" | "compat";

export function snippets({ origin, sitekey }: SnippetInput): Record<SnippetKind, string> {
  return {
    html: `<script src="${origin}/v1/widget.js" async defer></script>

<form method="post" action="/signup">
  <!-- your fields -->
  <div class="haechi" data-sitekey="${sitekey}"></div>
  <button>Sign up</button>
</form>`,
    python: `# pip install haechi  (or any HTTP client: POST ${origin}/siteverify)
from haechi.client import averify

result = await averify(
    secret=os.environ["HAECHI_SECRET"],
    response=form["haechi-response"],
    remoteip=client_ip,
    url="${origin}",
)
if not result.success:
    raise Forbidden(result.error_codes)`,
    node: `const res = await fetch("${origin}/siteverify", {
  method: "POST",
  body: new URLSearchParams({
    secret: process.env.HAECHI_SECRET,
    response: req.body["haechi-response"],
    remoteip: req.ip,
  }),
});
const result = await res.json();
if (!result.success) return res.status(403).send(result["error-codes"]);`,
    php: `$ch = curl_init("${origin}/siteverify");
curl_setopt_array($ch, [
    CURLOPT_POST => true,
    CURLOPT_RETURNTRANSFER => true,
    CURLOPT_POSTFIELDS => http_build_query([
        "secret" => getenv("HAECHI_SECRET"),
        "response" => $_POST["haechi-response"] ?? "",
        "remoteip" => $_SERVER["REMOTE_ADDR"],
    ]),
]);
$result = json_decode(curl_exec($ch), true);
if (empty($result["success"])) { http_response_code(403); exit; }`,
    compat: `<!-- reCAPTCHA -->   <script src="${origin}/recaptcha/api.js" async defer></script>
   verify at:        ${origin}/recaptcha/api/siteverify
<!-- hCaptcha -->    <script src="${origin}/hcaptcha/1/api.js" async defer></script>
   verify at:        ${origin}/hcaptcha/siteverify
<!-- Turnstile -->   <script src="${origin}/turnstile/v0/api.js" async defer></script>
   verify at:        ${origin}/turnstile/v0/siteverify

Use your Haechi sitekey (${sitekey}) and secret in place of the vendor's.`,
  };
}
