import { createFileRoute } from "@tanstack/react-router";
import { useDeferredValue, useState } from "react";

import { adminListUsers } from "../../client";
import { problemText, usePaged } from "../../features/admin/paged";
import { useI18n } from "../../i18n";

export const Route = createFileRoute("/admin/users")({ component: Users });

function Users() {
  const { t, language } = useI18n();
  const [q, setQ] = useState("");
  const query = useDeferredValue(q.trim());
  const users = usePaged(["adminUsers", query], async (cursor, signal) => {
    const { data } = await adminListUsers({ query: { ...(query ? { q: query } : {}), ...(cursor ? { cursor } : {}) }, signal, throwOnError: true });
    return data;
  });
  return (
    <section>
      <h1>{t("admin.users")}</h1>
      {users.error && (
        <p role="alert" className="form-error">
          {t("common.error", { detail: problemText(users.error) })}
        </p>
      )}
      <div className="field">
        <label htmlFor="admin-users-q">{t("admin.users.search")}</label>
        <input id="admin-users-q" type="search" value={q} onChange={(e) => setQ(e.target.value)} />
      </div>
      <table className="table">
        <thead>
          <tr>
            <th scope="col">{t("team.email")}</th>
            <th scope="col">{t("admin.created")}</th>
            <th scope="col">{t("admin.users.verified")}</th>
            <th scope="col">{t("twofa.title")}</th>
            <th scope="col">{t("admin.users.operator")}</th>
          </tr>
        </thead>
        <tbody>
          {users.rows.map((user) => (
            <tr key={user.id}>
              <td>{user.email}</td>
              <td>{new Date(user.created_at).toLocaleDateString(language)}</td>
              <td>{user.email_verified ? t("common.yes") : t("common.no")}</td>
              <td>{user.two_factor ? t("common.yes") : t("common.no")}</td>
              <td>{user.is_operator ? t("common.yes") : t("common.no")}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {users.isSuccess && users.rows.length === 0 && <p>{t("admin.none")}</p>}
      {users.hasNextPage && (
        <button type="button" className="secondary" onClick={() => void users.fetchNextPage()} disabled={users.isFetchingNextPage}>
          {t("admin.more")}
        </button>
      )}
    </section>
  );
}
