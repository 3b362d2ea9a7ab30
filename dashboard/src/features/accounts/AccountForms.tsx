/** The signed-in user's own account: language, password, e-mail address, deletion. */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "@tanstack/react-router";
import { useState } from "react";

import type { UserPublic } from "../../client";
import {
  meChangeEmailMutation,
  meChangePasswordMutation,
  meDeleteMutation,
  meGetQueryKey,
  meResendVerificationMutation,
  meUpdateMutation,
} from "../../client/@tanstack/react-query.gen";
import { Field, FormError, useForm } from "../../components/form";
import { LANGUAGES, useI18n, type Language } from "../../i18n";
import { setAccessToken } from "../../lib/api";
import { changeEmailSchema, changePasswordSchema, deleteAccountSchema } from "./schemas";

export function Profile({ me }: { me: UserPublic }) {
  const { t, setLanguage } = useI18n();
  const queries = useQueryClient();
  const update = useMutation(meUpdateMutation());
  const resend = useMutation(meResendVerificationMutation());
  const locale = (me.locale === "ko" ? "ko" : "en") as Language;
  return (
    <section aria-labelledby="profile" className="card">
      <h2 id="profile">{t("account.profile")}</h2>
      <p>
        <span data-testid="account-email">{me.email}</span> · {me.email_verified ? t("account.verified") : t("account.unverified")}
      </p>
      {!me.email_verified && (
        <p>
          <button type="button" className="secondary" disabled={resend.isPending || resend.isSuccess} onClick={() => resend.mutate({})}>
            {t("account.resend")}
          </button>{" "}
          <span role="status">{resend.isSuccess ? t("account.resent") : ""}</span>
        </p>
      )}
      <div className="field">
        <label htmlFor="account-locale">{t("account.locale")}</label>
        <select
          id="account-locale"
          value={locale}
          onChange={async (event) => {
            const value = event.target.value as Language;
            await update.mutateAsync({ body: { locale: value } });
            setLanguage(value);
            await queries.invalidateQueries({ queryKey: meGetQueryKey() });
          }}
        >
          {LANGUAGES.map((l) => (
            <option key={l.code} value={l.code} lang={l.code}>
              {l.label}
            </option>
          ))}
        </select>
        <p className="hint">{t("account.locale.hint")}</p>
      </div>
    </section>
  );
}

export function ChangePassword() {
  const { t } = useI18n();
  const change = useMutation(meChangePasswordMutation());
  const [done, setDone] = useState(false);
  const form = useForm({
    schema: changePasswordSchema,
    initial: { current_password: "", new_password: "" },
    codeFields: { "wrong-password": "current_password", "weak-password": "new_password" },
    submit: async (values) => {
      setDone(false);
      await change.mutateAsync({ body: values });
      setDone(true);
    },
  });
  return (
    <section aria-labelledby="password" className="card">
      <h2 id="password">{t("account.password")}</h2>
      <form className="stack" onSubmit={form.onSubmit} noValidate>
        <Field label={t("form.password.current")} type="password" autoComplete="current-password" value={form.values.current_password} error={form.errors.current_password} onValue={(v) => form.set("current_password", v)} />
        <Field label={t("form.password.new")} type="password" autoComplete="new-password" value={form.values.new_password} error={form.errors.new_password} hint={t("auth.signup.passwordHint")} onValue={(v) => form.set("new_password", v)} />
        <FormError message={form.formError} />
        <button type="submit" disabled={form.pending}>
          {t("account.password.submit")}
        </button>
        <p role="status" className="done">
          {done ? t("account.password.done") : ""}
        </p>
      </form>
    </section>
  );
}

export function ChangeEmail() {
  const { t } = useI18n();
  const change = useMutation(meChangeEmailMutation());
  const [sent, setSent] = useState<string | null>(null);
  const form = useForm({
    schema: changeEmailSchema,
    initial: { new_email: "", current_password: "" },
    codeFields: { "wrong-password": "current_password", "email-taken": "new_email" },
    submit: async (values) => {
      setSent(null);
      await change.mutateAsync({ body: values });
      setSent(values.new_email);
    },
  });
  return (
    <section aria-labelledby="email" className="card">
      <h2 id="email">{t("account.email")}</h2>
      <form className="stack" onSubmit={form.onSubmit} noValidate>
        <Field label={t("account.email.new")} type="email" autoComplete="email" value={form.values.new_email} error={form.errors.new_email} onValue={(v) => form.set("new_email", v)} />
        <Field label={t("form.password.current")} type="password" autoComplete="current-password" value={form.values.current_password} error={form.errors.current_password} onValue={(v) => form.set("current_password", v)} />
        <FormError message={form.formError} />
        <button type="submit" disabled={form.pending}>
          {t("account.email.submit")}
        </button>
        <p role="status" className="done">
          {sent ? t("account.email.sent", { email: sent }) : ""}
        </p>
      </form>
    </section>
  );
}

export function DeleteAccount() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const queries = useQueryClient();
  const remove = useMutation(meDeleteMutation());
  const form = useForm({
    schema: deleteAccountSchema,
    initial: { current_password: "" },
    codeFields: { "wrong-password": "current_password" },
    submit: async (values) => {
      if (!window.confirm(t("account.delete.confirm"))) return;
      await remove.mutateAsync({ body: values });
      setAccessToken(null);
      queries.clear();
      await navigate({ to: "/" });
    },
  });
  return (
    <section aria-labelledby="delete" className="card danger-zone">
      <h2 id="delete">{t("account.delete")}</h2>
      <p>{t("account.delete.text")}</p>
      <form className="stack" onSubmit={form.onSubmit} noValidate>
        <Field label={t("form.password.current")} type="password" autoComplete="current-password" value={form.values.current_password} error={form.errors.current_password} onValue={(v) => form.set("current_password", v)} />
        <FormError message={form.formError} />
        <button type="submit" className="danger" disabled={form.pending}>
          {t("account.delete.submit")}
        </button>
      </form>
    </section>
  );
}
