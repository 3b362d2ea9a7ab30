import { useMutation } from "@tanstack/react-query";
import { createFileRoute, Link } from "@tanstack/react-router";
import { useState } from "react";

import { accountsResetPasswordMutation } from "../client/@tanstack/react-query.gen";
import { Field, FormError, useForm } from "../components/form";
import { resetSchema } from "../features/accounts/schemas";
import { useI18n } from "../i18n";
import { optionalStrings } from "../lib/search";

export const Route = createFileRoute("/reset-password")({
  validateSearch: optionalStrings("token"),
  component: ResetPassword,
});

function ResetPassword() {
  const { t } = useI18n();
  const { token } = Route.useSearch();
  const reset = useMutation(accountsResetPasswordMutation());
  const [done, setDone] = useState(false);
  const form = useForm({
    schema: resetSchema,
    initial: { password: "" },
    codeFields: { "weak-password": "password" },
    submit: async (values) => {
      await reset.mutateAsync({ body: { token: token ?? "", password: values.password } });
      setDone(true);
    },
  });
  return (
    <section className="narrow">
      <h1>{t("auth.reset.title")}</h1>
      {!token ? (
        <p className="notice">{t("auth.verify.missing")}</p>
      ) : done ? (
        <p role="status" className="notice">
          {t("auth.reset.done")} <Link to="/signin">{t("auth.gotoSignin")}</Link>
        </p>
      ) : (
        <form className="stack" onSubmit={form.onSubmit} noValidate>
          <Field label={t("form.password.new")} type="password" autoComplete="new-password" value={form.values.password} error={form.errors.password} hint={t("auth.signup.passwordHint")} onValue={(v) => form.set("password", v)} />
          <FormError message={form.formError} />
          <button type="submit" disabled={form.pending}>
            {t("auth.reset.submit")}
          </button>
        </form>
      )}
    </section>
  );
}
