import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { z } from "zod";

import { meGetQueryKey, totpBeginMutation, totpConfirmMutation, totpDisableMutation } from "../../client/@tanstack/react-query.gen";
import type { TotpSetup } from "../../client";
import { CopyField } from "../../components/CopyField";
import { Field, FormError, useForm } from "../../components/form";
import { useI18n } from "../../i18n";
import { Qr } from "./Qr";

const confirmSchema = z.object({ code: z.string().trim().regex(/^[0-9]{6}$/, "auth.otp.hint") });
const disableSchema = z.object({ current_password: z.string().min(1, "form.required"), otp: z.string().trim().min(6, "auth.otp.hint").max(32) });

/** TOTP: begin (secret shown once), confirm with a code (recovery codes shown once), turn off. */
export function TwoFactor({ enabled }: { enabled: boolean }) {
  const { t } = useI18n();
  const queries = useQueryClient();
  const begin = useMutation(totpBeginMutation());
  const confirm = useMutation(totpConfirmMutation());
  const disable = useMutation(totpDisableMutation());
  const [setup, setSetup] = useState<TotpSetup | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const refresh = () => queries.invalidateQueries({ queryKey: meGetQueryKey() });
  const confirmForm = useForm({
    schema: confirmSchema,
    initial: { code: "" },
    codeFields: { "bad-otp": "code" },
    submit: async (values) => {
      setCodes((await confirm.mutateAsync({ body: values })).recovery_codes);
      setSetup(null);
      await refresh();
    },
  });
  const disableForm = useForm({
    schema: disableSchema,
    initial: { current_password: "", otp: "" },
    codeFields: { "bad-otp": "otp", "wrong-password": "current_password" },
    submit: async (values) => {
      await disable.mutateAsync({ body: values });
      await refresh();
    },
  });
  return (
    <section aria-labelledby="twofa" className="card">
      <h2 id="twofa">{t("twofa.title")}</h2>
      <p>{enabled ? t("twofa.on") : t("twofa.off")}</p>
      {codes && <CopyField label={t("twofa.recovery")} value={codes.join("\n")} multiline />}
      {!enabled && !setup && (
        <button type="button" onClick={async () => setSetup(await begin.mutateAsync({}))} disabled={begin.isPending}>
          {t("twofa.begin")}
        </button>
      )}
      {!enabled && setup && (
        <form className="stack" onSubmit={confirmForm.onSubmit} noValidate>
          <p>{t("twofa.scan")}</p>
          <Qr value={setup.uri} label={t("twofa.qr")} />
          <CopyField label={t("twofa.secret")} value={setup.secret} />
          <CopyField label={t("twofa.uri")} value={setup.uri} />
          <Field label={t("form.otp")} autoComplete="one-time-code" inputMode="numeric" value={confirmForm.values.code} error={confirmForm.errors.code} onValue={(v) => confirmForm.set("code", v)} />
          <FormError message={confirmForm.formError} />
          <button type="submit" disabled={confirmForm.pending}>
            {t("twofa.confirm")}
          </button>
        </form>
      )}
      {enabled && (
        <form className="stack" onSubmit={disableForm.onSubmit} noValidate>
          <Field label={t("form.password.current")} type="password" autoComplete="current-password" value={disableForm.values.current_password} error={disableForm.errors.current_password} onValue={(v) => disableForm.set("current_password", v)} />
          <Field label={t("form.otp")} autoComplete="one-time-code" value={disableForm.values.otp} error={disableForm.errors.otp} onValue={(v) => disableForm.set("otp", v)} />
          <FormError message={disableForm.formError} />
          <button type="submit" className="secondary" disabled={disableForm.pending}>
            {t("twofa.disable")}
          </button>
        </form>
      )}
    </section>
  );
}
