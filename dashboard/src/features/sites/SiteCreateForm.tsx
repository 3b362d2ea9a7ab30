import { useMutation, useQueryClient } from "@tanstack/react-query";
import { z } from "zod";

import { sitesCreateMutation, sitesListQueryKey } from "../../client/@tanstack/react-query.gen";
import type { SiteCreated } from "../../client";
import { Field, FormError, useForm } from "../../components/form";
import { useI18n } from "../../i18n";
import { parseHostnames } from "./hostnames";

const schema = z.object({
  name: z.string().trim().min(1, "form.required").max(100),
  hostnames: z.string().refine((text) => parseHostnames(text).length > 0, "form.required"),
});

export function SiteCreateForm({ orgId, onCreated }: { orgId: string; onCreated: (site: SiteCreated) => void }) {
  const { t } = useI18n();
  const queries = useQueryClient();
  const create = useMutation(sitesCreateMutation());
  const form = useForm({
    schema,
    initial: { name: "", hostnames: window.location.hostname },
    codeFields: { "invalid-hostname": "hostnames" },
    submit: async (values) => {
      const site = await create.mutateAsync({
        path: { org_id: orgId },
        body: { name: values.name, hostnames: parseHostnames(values.hostnames) },
      });
      await queries.invalidateQueries({ queryKey: sitesListQueryKey({ path: { org_id: orgId } }) });
      onCreated(site);
    },
  });
  return (
    <form className="stack" onSubmit={form.onSubmit} noValidate>
      <Field label={t("onboarding.site.name")} value={form.values.name} error={form.errors.name} onValue={(v) => form.set("name", v)} />
      <Field label={t("onboarding.site.hostnames")} value={form.values.hostnames} error={form.errors.hostnames} hint={t("onboarding.site.hostnamesHint")} onValue={(v) => form.set("hostnames", v)} />
      <FormError message={form.formError} />
      <button type="submit" disabled={form.pending}>
        {t("onboarding.site.submit")}
      </button>
    </form>
  );
}
