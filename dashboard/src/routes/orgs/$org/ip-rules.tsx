import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { createFileRoute } from "@tanstack/react-router";
import { useState } from "react";

import {
  ipRulesCreateForSiteMutation,
  ipRulesCreateMutation,
  ipRulesDeleteMutation,
  ipRulesGetPolicyOptions,
  ipRulesListForSiteOptions,
  ipRulesListOptions,
  ipRulesSetPolicyMutation,
  sitesListOptions,
} from "../../../client/@tanstack/react-query.gen";
import { Field, FormError, useForm } from "../../../components/form";
import { problemText } from "../../../features/admin/paged";
import { ruleSchema } from "../../../features/iprules/schema";
import { useI18n } from "../../../i18n";

export const Route = createFileRoute("/orgs/$org/ip-rules")({ component: IpRules });

const RULE_IDS = ["ipRulesList", "ipRulesListForSite", "ipRulesGetPolicy"];

/** Allow and deny lists of addresses and networks, for the whole organisation or one site. */
function IpRules() {
  const { t, language } = useI18n();
  const { org } = Route.useParams();
  const queries = useQueryClient();
  const sites = useQuery(sitesListOptions({ path: { org_id: org } }));
  const [scope, setScope] = useState("");
  const orgRules = useQuery({ ...ipRulesListOptions({ path: { org_id: org } }), enabled: !scope });
  const siteRules = useQuery({ ...ipRulesListForSiteOptions({ path: { org_id: org, site_id: scope } }), enabled: !!scope });
  const policy = useQuery({ ...ipRulesGetPolicyOptions({ path: { org_id: org, site_id: scope } }), enabled: !!scope });
  const rules = scope ? siteRules : orgRules;
  const createOrg = useMutation(ipRulesCreateMutation());
  const createSite = useMutation(ipRulesCreateForSiteMutation());
  const remove = useMutation(ipRulesDeleteMutation());
  const setPolicy = useMutation(ipRulesSetPolicyMutation());
  const [notice, setNotice] = useState("");
  const refresh = () => queries.invalidateQueries({ predicate: (q) => RULE_IDS.includes((q.queryKey[0] as { _id?: string })?._id ?? "") });
  const form = useForm({
    schema: ruleSchema,
    initial: { cidr: "", action: "deny" as "allow" | "deny", note: "", expires: "" },
    codeFields: { "invalid-expiry": "expires", "ip-rule-limit": "cidr" },
    submit: async (values) => {
      const body = {
        cidr: values.cidr,
        action: values.action,
        ...(values.note ? { note: values.note } : {}),
        ...(values.expires ? { expires_at: new Date(values.expires).toISOString() } : {}),
      };
      if (scope) await createSite.mutateAsync({ path: { org_id: org, site_id: scope }, body });
      else await createOrg.mutateAsync({ path: { org_id: org }, body });
      form.set("cidr", "");
      form.set("note", "");
      setNotice(t("iprules.added", { cidr: values.cidr }));
      await refresh();
    },
  });
  const siteName = (id: string | null) => sites.data?.data.find((s) => s.id === id)?.name ?? "";
  return (
    <section>
      <h1>{t("iprules.title")}</h1>
      <p>{t("iprules.lead")}</p>
      <div className="field">
        <label htmlFor="ip-scope">{t("iprules.scope")}</label>
        <select id="ip-scope" value={scope} onChange={(e) => setScope(e.target.value)}>
          <option value="">{t("iprules.scope.org")}</option>
          {sites.data?.data.map((site) => (
            <option key={site.id} value={site.id}>
              {site.name}
            </option>
          ))}
        </select>
      </div>
      {scope && policy.data && (
        <div className="check">
          <input
            id="ip-skip"
            type="checkbox"
            checked={policy.data.allow_skips_friction}
            onChange={async (e) => {
              await setPolicy.mutateAsync({ path: { org_id: org, site_id: scope }, body: { allow_skips_friction: e.target.checked } });
              await refresh();
            }}
          />
          <label htmlFor="ip-skip">{t("iprules.skip")}</label>
        </div>
      )}
      {(rules.error ?? remove.error) && (
        <p role="alert" className="form-error">
          {t("common.error", { detail: problemText(rules.error ?? remove.error) })}
        </p>
      )}
      {rules.data && rules.data.data.length === 0 && <p>{t("iprules.none")}</p>}
      {rules.data && rules.data.data.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">{t("iprules.cidr")}</th>
              <th scope="col">{t("iprules.action")}</th>
              <th scope="col">{t("iprules.appliesTo")}</th>
              <th scope="col">{t("iprules.note")}</th>
              <th scope="col">{t("iprules.expires")}</th>
              <th scope="col">
                <span className="visually-hidden">{t("iprules.remove")}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rules.data.data.map((rule) => (
              <tr key={rule.id}>
                <td>
                  <code>{rule.cidr}</code>
                </td>
                <td>{rule.action === "allow" ? t("iprules.allow") : t("iprules.deny")}</td>
                <td>{rule.site_id ? siteName(rule.site_id) : t("iprules.scope.org")}</td>
                <td>{rule.note ?? ""}</td>
                <td>{rule.expires_at ? new Date(rule.expires_at).toLocaleString(language) : t("iprules.never")}</td>
                <td>
                  <button
                    type="button"
                    className="secondary"
                    aria-label={t("iprules.remove.label", { cidr: rule.cidr })}
                    onClick={async () => {
                      await remove.mutateAsync({ path: { org_id: org, rule_id: rule.id } });
                      setNotice(t("iprules.removed", { cidr: rule.cidr }));
                      await refresh();
                    }}
                  >
                    {t("iprules.remove")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p role="status" className="done">
        {notice}
      </p>
      <section aria-labelledby="ip-add" className="card">
        <h2 id="ip-add">{t("iprules.add")}</h2>
        <form className="stack" onSubmit={form.onSubmit} noValidate>
          <Field label={t("iprules.cidr")} value={form.values.cidr} error={form.errors.cidr} hint={t("iprules.cidr.hint")} spellCheck={false} onValue={(v) => form.set("cidr", v)} />
          <fieldset>
            <legend>{t("iprules.action")}</legend>
            {(["deny", "allow"] as const).map((action) => (
              <label key={action} className="check">
                <input type="radio" name="ip-action" value={action} checked={form.values.action === action} onChange={() => form.set("action", action)} />
                {action === "allow" ? t("iprules.allow.long") : t("iprules.deny.long")}
              </label>
            ))}
          </fieldset>
          <Field label={t("iprules.note")} value={form.values.note} error={form.errors.note} onValue={(v) => form.set("note", v)} />
          <Field label={t("iprules.expires")} type="datetime-local" value={form.values.expires} error={form.errors.expires} hint={t("iprules.expires.hint")} onValue={(v) => form.set("expires", v)} />
          <FormError message={form.formError} />
          <button type="submit" disabled={form.pending}>
            {t("iprules.add.submit")}
          </button>
        </form>
      </section>
    </section>
  );
}
