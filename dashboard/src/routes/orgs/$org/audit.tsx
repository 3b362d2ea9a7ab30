import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { createFileRoute } from "@tanstack/react-router";
import { useDeferredValue, useState } from "react";

import { auditList } from "../../../client";
import { auditListQueryKey, membersListOptions } from "../../../client/@tanstack/react-query.gen";
import { useI18n } from "../../../i18n";
import { isProblem } from "../../../lib/api";

export const Route = createFileRoute("/orgs/$org/audit")({ component: Audit });

function Audit() {
  const { t, language } = useI18n();
  const { org } = Route.useParams();
  const [action, setAction] = useState("");
  const [actor, setActor] = useState("");
  const [since, setSince] = useState("");
  const [until, setUntil] = useState("");
  const filter = useDeferredValue(action.trim());
  const members = useQuery(membersListOptions({ path: { org_id: org } }));
  const emails = new Map(members.data?.data.map((m) => [m.user_id, m.email]) ?? []);
  // Dates are the browser's days: from the start of `since` to the end of `until`.
  const day = (value: string, offset: number) => new Date(new Date(`${value}T00:00`).getTime() + offset * 86_400_000).toISOString();
  const options = {
    path: { org_id: org },
    query: {
      ...(filter ? { action: filter } : {}),
      ...(actor ? { actor_id: actor } : {}),
      ...(since ? { since: day(since, 0) } : {}),
      ...(until ? { until: day(until, 1) } : {}),
    },
  };
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
      <div className="filters" role="group" aria-label={t("audit.filters")}>
        <div className="field">
          <label htmlFor="audit-action">{t("audit.filter")}</label>
          <input id="audit-action" value={action} onChange={(e) => setAction(e.target.value)} placeholder="site.create" />
        </div>
        <div className="field">
          <label htmlFor="audit-actor">{t("audit.actor")}</label>
          <select id="audit-actor" value={actor} onChange={(e) => setActor(e.target.value)}>
            <option value="">{t("audit.anyone")}</option>
            {members.data?.data.map((m) => (
              <option key={m.user_id} value={m.user_id}>
                {m.email}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="audit-since">{t("audit.since")}</label>
          <input id="audit-since" type="date" value={since} onChange={(e) => setSince(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="audit-until">{t("audit.until")}</label>
          <input id="audit-until" type="date" value={until} onChange={(e) => setUntil(e.target.value)} />
        </div>
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
                <td>{(event.actor_id && emails.get(event.actor_id)) ?? event.actor_type}</td>
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
