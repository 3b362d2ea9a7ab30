import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { createFileRoute } from "@tanstack/react-router";
import { useDeferredValue, useState } from "react";

import { adminListOrgsOptions, adminSuspendOrgMutation, adminUnsuspendOrgMutation } from "../../client/@tanstack/react-query.gen";
import { requireSession } from "../../features/auth/session";
import { useI18n } from "../../i18n";

export const Route = createFileRoute("/admin/")({
  beforeLoad: ({ location }) => requireSession(location.href),
  component: Admin,
});

/** Operators only: the API answers 403 to anyone else, and this page shows that answer. */
function Admin() {
  const { t, language } = useI18n();
  const queries = useQueryClient();
  const [q, setQ] = useState("");
  const query = useDeferredValue(q.trim());
  const orgs = useQuery(adminListOrgsOptions({ query: query ? { q: query } : {} }));
  const suspend = useMutation(adminSuspendOrgMutation());
  const unsuspend = useMutation(adminUnsuspendOrgMutation());
  const refresh = () => queries.invalidateQueries({ predicate: (item) => (item.queryKey[0] as { _id?: string })?._id === "adminListOrgs" });
  const error = orgs.error ?? suspend.error ?? unsuspend.error;
  return (
    <section>
      <h1>{t("admin.title")}</h1>
      {error && (
        <p role="alert" className="form-error">
          {t("common.error", { detail: String(error.detail ?? "") })}
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
            <th scope="col">{t("sites.status")}</th>
            <th scope="col">
              <span className="visually-hidden">{t("admin.suspend")}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {orgs.data?.data.map((org) => (
            <tr key={org.id}>
              <td>
                {org.name} <code>{org.slug}</code>
              </td>
              <td>{org.suspended_at ? t("admin.suspended", { time: new Date(org.suspended_at).toLocaleString(language) }) : t("sites.active")}</td>
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
    </section>
  );
}
