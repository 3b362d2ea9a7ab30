import { useMutation } from "@tanstack/react-query";
import { createFileRoute, Link } from "@tanstack/react-router";
import { useState } from "react";

import { accountsCreateMutation } from "../client/@tanstack/react-query.gen";
import { Field, FormError, useForm } from "../components/form";
import { signUpSchema } from "../features/accounts/schemas";
import { useI18n } from "../i18n";

export const Route = createFileRoute("/signup")({ component: SignUp });

function SignUp() {
  const { t, language } = useI18n();
  const create = useMutation(accountsCreateMutation());
  const [sentTo, setSentTo] = useState<string | null>(null);
  const form = useForm({
    schema: signUpSchema,
    initial: { email: "", password: "" },
    codeFields: { "weak-password": "password", "email-taken": "email", conflict: "email" },
    submit: async (values) => {
      await create.mutateAsync({ body: { ...values, locale: language } });
      setSentTo(values.email);
    },
  });
  return (
    <section className="narrow">
      <h1>{t("auth.signup.title")}</h1>
      {sentTo ? (
        <p role="status" className="notice">
          {t("auth.signup.done", { email: sentTo })}
        </p>
      ) : (
        <form className="stack" onSubmit={form.onSubmit} noValidate>
          <Field label={t("form.email")} type="email" autoComplete="email" value={form.values.email} error={form.errors.email} onValue={(v) => form.set("email", v)} />
          <Field label={t("form.password")} type="password" autoComplete="new-password" value={form.values.password} error={form.errors.password} hint={t("auth.signup.passwordHint")} onValue={(v) => form.set("password", v)} />
          <FormError message={form.formError} />
          <button type="submit" disabled={form.pending}>
            {t("auth.signup.submit")}
          </button>
          <Link to="/signin">{t("auth.signup.have")}</Link>
        </form>
      )}
    </section>
  );
}
