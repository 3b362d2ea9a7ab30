import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { createFileRoute, Link } from "@tanstack/react-router";
import { useDeferredValue, useState } from "react";

import { adminListOrgs } from "../../client";
import { adminListOrgSitesOptions, adminSuspendOrgMutation, adminUnsuspendOrgMutation } from "../../client/@tanstack/react-query.gen";
import { OrgPlan } from "../../features/admin/OrgPlan";
import { problemText, usePaged } from "../../features/admin/paged";
import { useI18n, type MessageKey } from "../../i18n";

export const Route = createFileRoute("/admin/")({ component: Admin });

function Admin() {
  const { t, language } = useI18n();
  const queries = useQueryClient();
  const [q, setQ] = useState("");
  const query = useDeferredValue(q.trim());
  const orgs = usePaged(["adminOrgs", query], async (cursor, signal) => {
    const { data } = await adminListOrgs({ query: { ...(query ? { q: query } : {}), ...(cursor ? { cursor } : {}) }, signal, throwOnError: true });
    return data;
  });
  const suspend = useMutation(adminSuspendOrgMutation());
  const unsuspend = useMutation(adminUnsuspendOrgMutation());
  const refresh = () => queries.invalidateQueries({ queryKey: ["adminOrgs"] });
  const error = orgs.error ?? suspend.error ?? unsuspend.error;
  return (
    <section>
      <h1>{t("admin.title")}</h1>
      {error && (
        <p role="alert" className="form-error">
          {t("common.error", { detail: problemText(error) })}
        </p>
      )}
      <h2>{t("admin.orgs")}</h2>
      <div className="field">
        <label htmlFor="admin-q">{t("admin.search")}</label>
        <input id="admin-q" type="search" value={q} onChange={(e) => setQ(e.target.value)} />
      </div>
      <table className="table">
        <thead>
          <tr>
            <th scope="col">{t("sites.name")}</th>
            <th scope="col">{t("admin.created")}</th>
            <th scope="col">{t("sites.status")}</th>
            <th scope="col">{t("sites.title")}</th>
            <th scope="col">
              <span className="visually-hidden">{t("admin.suspend")}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {orgs.rows.map((org) => (
            <tr key={org.id}>
              <td>
                {org.name} <code>{org.slug}</code>
              </td>
              <td>{new Date(org.created_at).toLocaleDateString(language)}</td>
              <td>{org.suspended_at ? t("admin.suspended", { time: new Date(org.suspended_at).toLocaleString(language) }) : t("sites.active")}</td>
              <td>
                <OrgSites org={org.id} name={org.name} />
                <OrgPlan org={org.id} name={org.name} />
              </td>
              <td>
                {org.suspended_at ? (
                  <button
                    type="button"
                    className="secondary"
                    onClick={async () => {
                      await unsuspend.mutateAsync({ path: { org_id: org.id } });
                      await refresh();
                    }}
                  >
                    {t("admin.unsuspend")}
                  </button>
                ) : (
                  <button
                    type="button"
                    className="danger"
                    onClick={async () => {
                      if (!window.confirm(t("admin.suspend.confirm", { name: org.name }))) return;
                      await suspend.mutateAsync({ path: { org_id: org.id } });
                      await refresh();
                    }}
                  >
                    {t("admin.suspend")}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {orgs.isSuccess && orgs.rows.length === 0 && <p>{t("admin.none")}</p>}
      {orgs.hasNextPage && (
        <button type="button" className="secondary" onClick={() => void orgs.fetchNextPage()} disabled={orgs.isFetchingNextPage}>
          {t("admin.more")}
        </button>
      )}
      <p>
        <Link to="/admin/traffic">{t("admin.traffic.link")}</Link>
      </p>
    </section>
  );
}

/** An organisation's sites, fetched when the operator opens the list. */
function OrgSites({ org, name }: { org: string; name: string }) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  const sites = useQuery({ ...adminListOrgSitesOptions({ path: { org_id: org } }), enabled: open });
  return (
    <details onToggle={(event) => setOpen(event.currentTarget.open)}>
      <summary>
        <span className="visually-hidden">{name}: </span>
        {t("admin.sites.show")}
      </summary>
      {sites.isPending && open && <p>{t("common.loading")}</p>}
      {sites.data && sites.data.data.length === 0 && <p>{t("sites.none")}</p>}
      <ul>
        {sites.data?.data.map((site) => (
          <li key={site.id}>
            {site.name} <code>{site.sitekey}</code> · {t(`level.${site.security_level}` as MessageKey)} · {site.active ? t("sites.active") : t("sites.paused")}
          </li>
        ))}
      </ul>
    </details>
  );
}
