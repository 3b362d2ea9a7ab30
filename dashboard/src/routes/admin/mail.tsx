import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { createFileRoute } from "@tanstack/react-router";
import { useState } from "react";

import { adminDropMailMutation, adminListMailOptions, adminRetryMailMutation } from "../../client/@tanstack/react-query.gen";
import { problemText } from "../../features/admin/paged";
import { useI18n, type MessageKey } from "../../i18n";

export const Route = createFileRoute("/admin/mail")({ component: Mail });

const STATUSES = ["dead", "pending", "sent"] as const;
type Status = (typeof STATUSES)[number];

/** The outgoing mail queue; "dead" is the dead-letter queue: retry a message or drop it. */
function Mail() {
  const { t, language } = useI18n();
  const queries = useQueryClient();
  const [status, setStatus] = useState<Status>("dead");
  const mail = useQuery(adminListMailOptions({ query: { status } }));
  const retry = useMutation(adminRetryMailMutation());
  const drop = useMutation(adminDropMailMutation());
  const [done, setDone] = useState("");
  const refresh = () => queries.invalidateQueries({ predicate: (item) => (item.queryKey[0] as { _id?: string })?._id === "adminListMail" });
  const error = mail.error ?? retry.error ?? drop.error;
  return (
    <section>
      <h1>{t("admin.mail")}</h1>
      <p>{t("admin.mail.lead")}</p>
      {error && (
        <p role="alert" className="form-error">
          {t("common.error", { detail: problemText(error) })}
        </p>
      )}
      <div className="field">
        <label htmlFor="mail-status">{t("admin.mail.status")}</label>
        <select id="mail-status" value={status} onChange={(e) => setStatus(e.target.value as Status)}>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {t(`admin.mail.${s}` as MessageKey)}
            </option>
          ))}
        </select>
      </div>
      <p role="status" className="done">
        {done}
      </p>
      {mail.isSuccess && mail.data.data.length === 0 && <p>{t("admin.mail.none")}</p>}
      {mail.data && mail.data.data.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">{t("admin.mail.to")}</th>
              <th scope="col">{t("admin.mail.subject")}</th>
              <th scope="col">{t("admin.created")}</th>
              <th scope="col">{t("admin.mail.attempts")}</th>
              <th scope="col">{t("admin.mail.error")}</th>
              {status !== "sent" && (
                <th scope="col">
                  <span className="visually-hidden">{t("admin.mail.actions")}</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {mail.data.data.map((row) => (
              <tr key={row.id}>
                <td>{row.to_address}</td>
                <td>
                  {row.subject} <code>{row.template}</code>
                </td>
                <td>{new Date(row.created_at).toLocaleString(language)}</td>
                <td className="num">{row.attempts}</td>
                <td>{row.last_error ?? ""}</td>
                {status !== "sent" && (
                  <td>
                    <button
                      type="button"
                      className="secondary"
                      aria-label={t("admin.mail.retry.label", { to: row.to_address })}
                      onClick={async () => {
                        await retry.mutateAsync({ path: { mail_id: row.id } });
                        setDone(t("admin.mail.retried", { to: row.to_address }));
                        await refresh();
                      }}
                    >
                      {t("admin.mail.retry")}
                    </button>{" "}
                    <button
                      type="button"
                      className="danger"
                      aria-label={t("admin.mail.drop.label", { to: row.to_address })}
                      onClick={async () => {
                        if (!window.confirm(t("admin.mail.drop.confirm", { to: row.to_address }))) return;
                        await drop.mutateAsync({ path: { mail_id: row.id } });
                        setDone(t("admin.mail.dropped", { to: row.to_address }));
                        await refresh();
                      }}
                    >
                      {t("admin.mail.drop")}
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
