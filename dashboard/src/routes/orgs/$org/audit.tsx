import { useInfiniteQuery } from "@tanstack/react-query";
import { createFileRoute } from "@tanstack/react-router";
import { useDeferredValue, useState } from "react";

import { auditList } from "../../../client";
import { auditListQueryKey } from "../../../client/@tanstack/react-query.gen";
import { useI18n } from "../../../i18n";
import { isProblem } from "../../../lib/api";

export const Route = createFileRoute("/orgs/$org/audit")({ component: Audit });

function Audit() {
  const { t, language } = useI18n();
  const { org } = Route.useParams();
  const [action, setAction] = useState("");
  const filter = useDeferredValue(action.trim());
  const options = { path: { org_id: org }, query: filter ? { action: filter } : {} };
  const events = useInfiniteQuery({
    queryKey: auditListQueryKey(options),
    queryFn: async ({ pageParam, signal }) =>
      (await auditList({ ...options, query: { ...options.query, ...(pageParam ? { cursor: pageParam } : {}) }, signal, throwOnError: true })).data,
    initialPageParam: "",
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const rows = events.data?.pages.flatMap((page) => page.data) ?? [];
  return (
    <section>
      <h1>{t("audit.title")}</h1>
      <div className="field">
        <label htmlFor="audit-action">{t("audit.filter")}</label>
        <input id="audit-action" value={action} onChange={(e) => setAction(e.target.value)} placeholder="site.create" />
      </div>
      {events.error && (
        <p role="alert" className="form-error">
          {t("common.error", { detail: isProblem(events.error) ? (events.error.detail ?? "") : events.error.message })}
        </p>
      )}
      {events.isSuccess && rows.length === 0 && <p>{t("audit.none")}</p>}
      {rows.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">{t("audit.time")}</th>
              <th scope="col">{t("audit.action")}</th>
              <th scope="col">{t("audit.actor")}</th>
              <th scope="col">{t("audit.target")}</th>
              <th scope="col">{t("account.ip")}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((event) => (
              <tr key={event.id}>
                <td>{new Date(event.created_at).toLocaleString(language)}</td>
                <td>
                  <code>{event.action}</code>
                </td>
                <td>{event.actor_type}</td>
                <td>{event.target_type ?? ""}</td>
                <td>{event.ip ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {events.hasNextPage && (
        <button type="button" className="secondary" onClick={() => void events.fetchNextPage()} disabled={events.isFetchingNextPage}>
          {t("audit.more")}
        </button>
      )}
    </section>
  );
}
