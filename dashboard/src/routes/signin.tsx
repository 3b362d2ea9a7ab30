import { useMutation } from "@tanstack/react-query";
import { createFileRoute, Link, useNavigate } from "@tanstack/react-router";
import { useState } from "react";

import { authLoginMutation } from "../client/@tanstack/react-query.gen";
import { Field, FormError, useForm } from "../components/form";
import { signInSchema } from "../features/accounts/schemas";
import { OtherSignIn } from "../features/auth/OtherSignIn";
import { safeNext } from "../features/auth/session";
import { useI18n } from "../i18n";
import { isProblem, setAccessToken } from "../lib/api";
import { optionalStrings } from "../lib/search";

export const Route = createFileRoute("/signin")({
  validateSearch: optionalStrings("next"),
  component: SignIn,
});

function SignIn() {
  const { t } = useI18n();
  const { next } = Route.useSearch();
  const navigate = useNavigate();
  const login = useMutation(authLoginMutation());
  const [needsOtp, setNeedsOtp] = useState(false);
  const form = useForm({
    schema: signInSchema,
    initial: { email: "", password: "", otp: "" },
    codeFields: { "bad-otp": "otp" },
    submit: async (values) => {
      const body = { email: values.email, password: values.password, ...(values.otp ? { otp: values.otp } : {}) };
      const token = await login.mutateAsync({ body }).catch((error: unknown) => {
        // The account has two-factor sign-in: ask for the code, then send all three again.
        if (isProblem(error) && error.code === "otp-required") setNeedsOtp(true);
        throw error;
      });
      setAccessToken(token.access_token);
      await navigate({ href: safeNext(next) });
    },
  });
  return (
    <section className="narrow">
      <h1>{t("auth.signin.title")}</h1>
      <form className="stack" onSubmit={form.onSubmit} noValidate>
        <Field label={t("form.email")} type="email" autoComplete="username" value={form.values.email} error={form.errors.email} onValue={(v) => form.set("email", v)} />
        <Field label={t("form.password")} type="password" autoComplete="current-password" value={form.values.password} error={form.errors.password} onValue={(v) => form.set("password", v)} />
        {needsOtp && (
          <Field label={t("form.otp")} autoComplete="one-time-code" inputMode="numeric" autoFocus value={form.values.otp} error={form.errors.otp} hint={t("auth.otp.hint")} onValue={(v) => form.set("otp", v)} />
        )}
        <FormError message={form.formError} />
        <button type="submit" disabled={form.pending}>
          {t("auth.signin.submit")}
        </button>
        <Link to="/forgot-password">{t("auth.signin.forgot")}</Link>
        <Link to="/signup">{t("auth.signin.new")}</Link>
      </form>
      <OtherSignIn next={next} email={form.values.email} />
    </section>
  );
}
