import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { createFileRoute, useNavigate } from "@tanstack/react-router";
import { useState } from "react";
import { z } from "zod";

import {
  sitesDeleteMutation,
  sitesGetOptions,
  sitesGetQueryKey,
  sitesListQueryKey,
  sitesRotateSecretMutation,
  sitesUpdateMutation,
} from "../../../../client/@tanstack/react-query.gen";
import type { SiteCreated, SitePublic } from "../../../../client";
import { Field, FormError, useForm } from "../../../../components/form";
import { parseHostnames } from "../../../../features/sites/hostnames";
import { SecretOnce } from "../../../../features/sites/SecretOnce";
import { Snippets } from "../../../../features/sites/Snippets";
import { WidgetTest } from "../../../../features/sites/WidgetTest";
import { Usage } from "../../../../features/usage/Usage";
import { useI18n, type MessageKey } from "../../../../i18n";

export const Route = createFileRoute("/orgs/$org/sites/$site")({ component: SitePage });

const LEVELS = ["low", "medium", "high", "strict", "test"] as const;
const MODES = ["managed", "non-interactive", "invisible"] as const;

function SitePage() {
  const { t } = useI18n();
  const { org, site } = Route.useParams();
  const path = { org_id: org, site_id: site };
  const current = useQuery(sitesGetOptions({ path }));
  if (current.isPending) return <p>{t("common.loading")}</p>;
  if (!current.data) return <p role="alert">{t("common.error", { detail: String(current.error?.detail ?? "") })}</p>;
  return (
    <section>
      <h1>{current.data.name}</h1>
      <p>
        {t("sites.sitekey")}: <code>{current.data.sitekey}</code>
      </p>
      <Usage org={org} site={site} />
      <Settings key={current.data.id} site={current.data} />
      <Rotate site={current.data} />
      <section aria-labelledby="code">
        <h2 id="code">{t("snippets.title")}</h2>
        <Snippets sitekey={current.data.sitekey} />
      </section>
      <WidgetTest sitekey={current.data.sitekey} />
      <Delete site={current.data} />
    </section>
  );
}

const settingsSchema = z.object({
  name: z.string().trim().min(1, "form.required").max(100),
  hostnames: z.string().refine((text) => parseHostnames(text).length > 0, "form.required"),
  security_level: z.enum(LEVELS),
  widget_mode: z.enum(MODES),
  active: z.boolean(),
});

function Settings({ site }: { site: SitePublic }) {
  const { t } = useI18n();
  const queries = useQueryClient();
  const update = useMutation(sitesUpdateMutation());
  const [saved, setSaved] = useState(false);
  const path = { org_id: site.org_id, site_id: site.id };
  const form = useForm({
    schema: settingsSchema,
    initial: {
      name: site.name,
      hostnames: site.hostnames.join("\n"),
      security_level: site.security_level,
      widget_mode: site.widget_mode,
      active: site.active,
    },
    codeFields: { "invalid-hostname": "hostnames", "test-level-refused": "security_level" },
    submit: async (values) => {
      setSaved(false);
      const updated = await update.mutateAsync({ path, body: { ...values, hostnames: parseHostnames(values.hostnames) } });
      queries.setQueryData(sitesGetQueryKey({ path }), updated);
      await queries.invalidateQueries({ queryKey: sitesListQueryKey({ path: { org_id: site.org_id } }) });
      setSaved(true);
    },
  });
  return (
    <section aria-labelledby="settings" className="card">
      <h2 id="settings">{t("site.settings")}</h2>
      <form className="stack" onSubmit={form.onSubmit} noValidate>
        <Field label={t("sites.name")} value={form.values.name} error={form.errors.name} onValue={(v) => form.set("name", v)} />
        <Field label={t("onboarding.site.hostnames")} value={form.values.hostnames} error={form.errors.hostnames} hint={t("onboarding.site.hostnamesHint")} onValue={(v) => form.set("hostnames", v)} />
        <div className="field">
          <label htmlFor="security-level">{t("sites.level")}</label>
          <select id="security-level" value={form.values.security_level} onChange={(e) => form.set("security_level", e.target.value)} aria-invalid={form.errors.security_level ? true : undefined} aria-describedby={form.errors.security_level ? "security-level-error" : undefined}>
            {LEVELS.map((level) => (
              <option key={level} value={level}>
                {t(`level.${level}` as MessageKey)}
              </option>
            ))}
          </select>
          {form.errors.security_level && (
            <p id="security-level-error" className="field-error">
              {form.errors.security_level}
            </p>
          )}
        </div>
        <div className="field">
          <label htmlFor="widget-mode">{t("site.mode")}</label>
          <select id="widget-mode" value={form.values.widget_mode} onChange={(e) => form.set("widget_mode", e.target.value)}>
            {MODES.map((mode) => (
              <option key={mode} value={mode}>
                {t(`mode.${mode}` as MessageKey)}
              </option>
            ))}
          </select>
        </div>
        <label className="check">
          <input type="checkbox" checked={form.values.active} onChange={(e) => form.set("active", e.target.checked)} /> {t("site.activeLabel")}
        </label>
        <FormError message={form.formError} />
        <button type="submit" disabled={form.pending}>
          {t("site.save")}
        </button>
        <p role="status" aria-live="polite">
          {saved ? t("site.saved") : ""}
        </p>
      </form>
    </section>
  );
}

function Rotate({ site }: { site: SitePublic }) {
  const { t, language } = useI18n();
  const queries = useQueryClient();
  const rotate = useMutation(sitesRotateSecretMutation());
  const [fresh, setFresh] = useState<SiteCreated | null>(null);
  const path = { org_id: site.org_id, site_id: site.id };
  const run = async () => {
    if (!window.confirm(t("site.rotate.confirm"))) return;
    const rotated = await rotate.mutateAsync({ path });
    setFresh(rotated);
    await queries.invalidateQueries({ queryKey: sitesGetQueryKey({ path }) });
  };
  const until = fresh?.previous_secret_expires_at ?? site.previous_secret_expires_at;
  return (
    <section aria-labelledby="rotate" className="card">
      <h2 id="rotate">{t("site.rotate.title")}</h2>
      <p>{t("site.rotate.text")}</p>
      {fresh && <SecretOnce sitekey={fresh.sitekey} secret={fresh.secret} />}
      {until && <p>{t("site.rotate.grace", { time: new Date(until).toLocaleString(language) })}</p>}
      <button type="button" className="secondary" onClick={run} disabled={rotate.isPending}>
        {t("site.rotate.submit")}
      </button>
      {rotate.error && <p role="alert" className="form-error">{t("common.error", { detail: String(rotate.error.detail ?? "") })}</p>}
    </section>
  );
}

function Delete({ site }: { site: SitePublic }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const queries = useQueryClient();
  const remove = useMutation(sitesDeleteMutation());
  if (site.is_demo) return null;
  const run = async () => {
    if (!window.confirm(t("site.delete.confirm"))) return;
    await remove.mutateAsync({ path: { org_id: site.org_id, site_id: site.id } });
    await queries.invalidateQueries({ queryKey: sitesListQueryKey({ path: { org_id: site.org_id } }) });
    await navigate({ to: "/orgs/$org/sites", params: { org: site.org_id } });
  };
  return (
    <p>
      <button type="button" className="danger" onClick={run} disabled={remove.isPending}>
        {t("site.delete")}
      </button>
    </p>
  );
}
