import { useMutation } from "@tanstack/react-query";
import { createFileRoute } from "@tanstack/react-router";
import { useState } from "react";

import { accountsRequestPasswordResetMutation } from "../client/@tanstack/react-query.gen";
import { Field, FormError, useForm } from "../components/form";
import { forgotSchema } from "../features/accounts/schemas";
import { useI18n } from "../i18n";

export const Route = createFileRoute("/forgot-password")({ component: ForgotPassword });

function ForgotPassword() {
  const { t } = useI18n();
  const request = useMutation(accountsRequestPasswordResetMutation());
  const [sentTo, setSentTo] = useState<string | null>(null);
  const form = useForm({
    schema: forgotSchema,
    initial: { email: "" },
    submit: async (values) => {
      await request.mutateAsync({ body: values });
      setSentTo(values.email);
    },
  });
  return (
    <section className="narrow">
      <h1>{t("auth.forgot.title")}</h1>
      {sentTo ? (
        <p role="status" className="notice">
          {t("auth.forgot.done", { email: sentTo })}
        </p>
      ) : (
        <form className="stack" onSubmit={form.onSubmit} noValidate>
          <Field label={t("form.email")} type="email" autoComplete="email" value={form.values.email} error={form.errors.email} onValue={(v) => form.set("email", v)} />
          <FormError message={form.formError} />
          <button type="submit" disabled={form.pending}>
            {t("auth.forgot.submit")}
          </button>
        </form>
      )}
    </section>
  );
}
