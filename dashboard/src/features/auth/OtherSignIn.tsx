import { useMutation, useQuery } from "@tanstack/react-query";
import { useNavigate } from "@tanstack/react-router";
import { useState } from "react";

import { authMethodsOptions, passkeysLoginMutation, passkeysLoginOptionsMutation } from "../../client/@tanstack/react-query.gen";
import { useI18n } from "../../i18n";
import { isProblem, setAccessToken } from "../../lib/api";
import { safeNext } from "./session";
import { getPasskey, passkeysSupported } from "./webauthn";

/** "Sign in with Google" (shown when the server has it) and "Sign in with a passkey". */
export function OtherSignIn({ next, email }: { next: string | undefined; email: string }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const methods = useQuery(authMethodsOptions());
  const begin = useMutation(passkeysLoginOptionsMutation());
  const login = useMutation(passkeysLoginMutation());
  const [error, setError] = useState<string | null>(null);
  const [working, setWorking] = useState(false);
  const passkey = async () => {
    setError(null);
    setWorking(true);
    try {
      const address = email.trim();
      const { options } = await begin.mutateAsync({ body: address.includes("@") ? { email: address } : {} });
      const credential = await getPasskey(options);
      const token = await login.mutateAsync({ body: { credential } });
      setAccessToken(token.access_token);
      await navigate({ href: safeNext(next) });
    } catch (caught) {
      if (isProblem(caught)) setError(caught.detail ?? caught.code ?? "");
      else if (caught instanceof DOMException && caught.name === "NotAllowedError") setError(t("passkeys.cancelled"));
      else setError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setWorking(false);
    }
  };
  if (!methods.data) return null;
  if (next) sessionStorage.setItem("haechi.next", next);
  return (
    <div className="other-signin" role="group" aria-label={t("auth.other")}>
      <p className="or">{t("auth.or")}</p>
      {methods.data.google && (
        // A top-level navigation, not a fetch: the API redirects to Google and back to /signin/google.
        <a className="button secondary" href="/api/v1/auth/google/start">
          {t("auth.google")}
        </a>
      )}
      {methods.data.passkeys && passkeysSupported() && (
        <button type="button" className="secondary" onClick={passkey} disabled={working}>
          {t("auth.passkey")}
        </button>
      )}
      {error && (
        <p className="form-error" role="alert">
          {t("auth.passkey.failed", { detail: error })}
        </p>
      )}
    </div>
  );
}
