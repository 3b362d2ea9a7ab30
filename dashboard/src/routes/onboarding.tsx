import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { createFileRoute, Link } from "@tanstack/react-router";
import { useState } from "react";
import { z } from "zod";

import { orgsCreateMutation, orgsListOptions, orgsListQueryKey } from "../client/@tanstack/react-query.gen";
import type { SiteCreated } from "../client";
import { Field, FormError, useForm } from "../components/form";
import { requireSession } from "../features/auth/session";
import { SecretOnce } from "../features/sites/SecretOnce";
import { SiteCreateForm } from "../features/sites/SiteCreateForm";
import { Snippets } from "../features/sites/Snippets";
import { WidgetTest } from "../features/sites/WidgetTest";
import { useI18n } from "../i18n";

export const Route = createFileRoute("/onboarding")({
  beforeLoad: ({ location }) => requireSession(location.href),
  component: Onboarding,
});

const orgSchema = z.object({ name: z.string().trim().min(1, "form.required").max(100) });

function Onboarding() {
  const { t } = useI18n();
  const queries = useQueryClient();
  const orgs = useQuery(orgsListOptions());
  const createOrg = useMutation(orgsCreateMutation());
  const [site, setSite] = useState<SiteCreated | null>(null);
  const org = orgs.data?.data[0];
  const form = useForm({
    schema: orgSchema,
    initial: { name: "" },
    submit: async (values) => {
      await createOrg.mutateAsync({ body: values });
      await queries.invalidateQueries({ queryKey: orgsListQueryKey() });
    },
  });
  if (orgs.isPending) return <p>{t("common.loading")}</p>;
  return (
    <section className="narrow wide">
      <h1>{t("onboarding.title")}</h1>
      <section aria-labelledby="step-org">
        <h2 id="step-org">{t("onboarding.org.title")}</h2>
        {org ? (
          <p className="done">✓ {org.name}</p>
        ) : (
          <form className="stack" onSubmit={form.onSubmit} noValidate>
            <Field label={t("onboarding.org.name")} value={form.values.name} error={form.errors.name} onValue={(v) => form.set("name", v)} />
            <FormError message={form.formError} />
            <button type="submit" disabled={form.pending}>
              {t("onboarding.org.submit")}
            </button>
          </form>
        )}
      </section>
      {org && (
        <section aria-labelledby="step-site">
          <h2 id="step-site">{t("onboarding.site.title")}</h2>
          {site ? <p className="done">✓ {site.name}</p> : <SiteCreateForm orgId={org.id} onCreated={setSite} />}
        </section>
      )}
      {org && site && (
        <>
          <section aria-labelledby="step-keys">
            <h2 id="step-keys">{t("onboarding.keys.title")}</h2>
            <SecretOnce sitekey={site.sitekey} secret={site.secret} />
            <Snippets sitekey={site.sitekey} />
          </section>
          <WidgetTest sitekey={site.sitekey} />
          <p>
            <Link to="/orgs/$org/sites" params={{ org: org.id }} className="button">
              {t("onboarding.done")}
            </Link>
          </p>
        </>
      )}
    </section>
  );
}
