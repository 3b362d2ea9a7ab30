import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { createFileRoute } from "@tanstack/react-router";
import { useState } from "react";
import { z } from "zod";

import { apiKeysCreateMutation, apiKeysListOptions, apiKeysListQueryKey, apiKeysRevokeMutation } from "../../../client/@tanstack/react-query.gen";
import type { ApiKeyCreated } from "../../../client";
import { CopyField } from "../../../components/CopyField";
import { Field, FormError, useForm } from "../../../components/form";
import { useI18n } from "../../../i18n";

export const Route = createFileRoute("/orgs/$org/api-keys")({ component: ApiKeys });

const SCOPES = ["read", "sites:write", "members:write", "audit:read"] as const;
const schema = z.object({
  name: z.string().trim().min(1, "form.required").max(100),
  scopes: z.array(z.enum(SCOPES)).min(1, "keys.scopes.required"),
});

function ApiKeys() {
  const { t, language } = useI18n();
  const { org } = Route.useParams();
  const path = { org_id: org };
  const queries = useQueryClient();
  const keys = useQuery(apiKeysListOptions({ path }));
  const create = useMutation(apiKeysCreateMutation());
  const revoke = useMutation(apiKeysRevokeMutation());
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const refresh = () => queries.invalidateQueries({ queryKey: apiKeysListQueryKey({ path }) });
  const form = useForm({
    schema,
    initial: { name: "", scopes: ["read"] },
    submit: async (values) => {
      setCreated(await create.mutateAsync({ path, body: values }));
      await refresh();
    },
  });
  const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString(language) : t("keys.never"));
  return (
    <section>
      <h1>{t("keys.title")}</h1>
      <p>{t("keys.lead")}</p>
      {created && (
        <div className="card keys">
          <CopyField label={t("keys.created")} value={created.key} />
          <p className="notice" role="note">
            {t("keys.secretOnce")}
          </p>
        </div>
      )}
      <form className="stack card" onSubmit={form.onSubmit} noValidate>
        <Field label={t("keys.name")} value={form.values.name} error={form.errors.name} onValue={(v) => form.set("name", v)} />
        <fieldset aria-describedby={form.errors.scopes ? "scopes-error" : undefined}>
          <legend>{t("keys.scopes")}</legend>
          {SCOPES.map((scope) => (
            <label key={scope} className="check">
              <input
                type="checkbox"
                checked={form.values.scopes.includes(scope)}
                onChange={(e) =>
                  form.set("scopes", e.target.checked ? [...form.values.scopes, scope] : form.values.scopes.filter((s) => s !== scope))
                }
              />
              <code>{scope}</code>
            </label>
          ))}
          {form.errors.scopes && (
            <p id="scopes-error" className="field-error">
              {form.errors.scopes}
            </p>
          )}
        </fieldset>
        <FormError message={form.formError} />
        <button type="submit" disabled={form.pending}>
          {t("keys.create")}
        </button>
      </form>
      <table className="table">
        <thead>
          <tr>
            <th scope="col">{t("keys.name")}</th>
            <th scope="col">{t("keys.scopes")}</th>
            <th scope="col">{t("keys.lastUsed")}</th>
            <th scope="col">
              <span className="visually-hidden">{t("team.revoke")}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {keys.data?.data.map((key) => (
            <tr key={key.id}>
              <td>
                {key.name} <code>{key.prefix}…</code>
              </td>
              <td>{key.scopes.join(", ")}</td>
              <td>
                {when(key.last_used_at)}
                {key.last_used_ip ? ` (${key.last_used_ip})` : ""}
              </td>
              <td>
                {key.revoked_at ? (
                  t("keys.revoked")
                ) : (
                  <button
                    type="button"
                    className="secondary"
                    onClick={async () => {
                      if (!window.confirm(t("keys.revoke.confirm", { name: key.name }))) return;
                      await revoke.mutateAsync({ path: { ...path, key_id: key.id } });
                      await refresh();
                    }}
                  >
                    {t("team.revoke")}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
