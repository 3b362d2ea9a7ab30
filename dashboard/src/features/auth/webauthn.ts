/** WebAuthn through the browser's JSON helpers (the API sends the options as JSON and takes
 * `credential.toJSON()`); browsers without them get a clear message, not a broken button. */

export function passkeysSupported(): boolean {
  return typeof PublicKeyCredential !== "undefined" && typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";
}

export async function getPasskey(options: Record<string, unknown>): Promise<Record<string, unknown>> {
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options as unknown as PublicKeyCredentialRequestOptionsJSON);
  const credential = (await navigator.credentials.get({ publicKey })) as PublicKeyCredential | null;
  if (!credential) throw new Error("no passkey was chosen");
  return credential.toJSON() as unknown as Record<string, unknown>;
}

export async function createPasskey(options: Record<string, unknown>): Promise<Record<string, unknown>> {
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options as unknown as PublicKeyCredentialCreationOptionsJSON);
  const credential = (await navigator.credentials.create({ publicKey })) as PublicKeyCredential | null;
  if (!credential) throw new Error("no passkey was made");
  return credential.toJSON() as unknown as Record<string, unknown>;
}
