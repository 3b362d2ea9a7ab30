import { useMutation } from "@tanstack/react-query";
import { createFileRoute, Link, useNavigate } from "@tanstack/react-router";
import { useEffect, useRef, useState } from "react";
import { z } from "zod";

import { googleCompleteMutation } from "../client/@tanstack/react-query.gen";
import { Field, FormError, useForm } from "../components/form";
import { safeNext } from "../features/auth/session";
import { useI18n, type MessageKey } from "../i18n";
import { isProblem, setAccessToken } from "../lib/api";

export const Route = createFileRoute("/signin_/google")({ component: GoogleReturn });

const otpSchema = z.object({ otp: z.string().trim().min(6, "auth.otp.hint").max(32) });
const KNOWN = ["bad-state", "provider-refused", "email-not-verified", "account-not-verified", "invalid-ticket", "bad-otp"];

/** Google sends the browser back here with `#ticket=…` (or `#error=code`); the ticket is traded
 * once for a session, with the authenticator code when the account has two-factor sign-in. */
function GoogleReturn() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const complete = useMutation(googleCompleteMutation());
  const read = useRef<{ ticket: string | null; error: string | null } | null>(null);
  if (read.current === null) {
    const fragment = new URLSearchParams(window.location.hash.slice(1));
    read.current = { ticket: fragment.get("ticket"), error: fragment.get("error") };
  }
  const { ticket } = read.current;
  const [error, setError] = useState<string | null>(read.current.error ?? (ticket ? null : "bad-state"));
  const [needsOtp, setNeedsOtp] = useState(false);
  const started = useRef(false);

  const finish = async (otp?: string) => {
    const token = await complete.mutateAsync({ body: { ticket: ticket ?? "", ...(otp ? { otp } : {}) } });
    setAccessToken(token.access_token);
    const next = sessionStorage.getItem("haechi.next");
    sessionStorage.removeItem("haechi.next");
    await navigate({ href: safeNext(next) });
  };
  useEffect(() => {
    if (window.location.hash) history.replaceState(history.state, "", window.location.pathname);
    if (!ticket || started.current) return;
    started.current = true; // StrictMode runs effects twice; a ticket is single-use
    finish().catch((caught: unknown) => {
      if (isProblem(caught) && caught.code === "otp-required") setNeedsOtp(true);
      else setError(isProblem(caught) ? (caught.code ?? "provider-error") : "provider-error");
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const form = useForm({
    schema: otpSchema,
    initial: { otp: "" },
    submit: async (values) => {
      try {
        await finish(values.otp);
      } catch (caught) {
        // A wrong code spends the ticket: the user starts again from the sign-in page.
        setNeedsOtp(false);
        setError(isProblem(caught) ? (caught.code ?? "provider-error") : "provider-error");
      }
    },
  });
  const message = error ? (KNOWN.includes(error) ? t(`google.error.${error}` as MessageKey) : t("google.error.other", { code: error })) : null;
  return (
    <section className="narrow">
      <h1>{t("google.title")}</h1>
      {!error && !needsOtp && <p role="status">{t("google.working")}</p>}
      {error && (
        <div role="alert" className="notice">
          <p>{message}</p>
          <Link to="/signin">{t("google.again")}</Link>
        </div>
      )}
      {needsOtp && !error && (
        <form className="stack" onSubmit={form.onSubmit} noValidate>
          <Field label={t("form.otp")} autoComplete="one-time-code" inputMode="numeric" autoFocus value={form.values.otp} error={form.errors.otp} hint={t("auth.otp.hint")} onValue={(v) => form.set("otp", v)} />
          <FormError message={form.formError} />
          <button type="submit" disabled={form.pending}>
            {t("auth.signin.submit")}
          </button>
        </form>
      )}
    </section>
  );
}
