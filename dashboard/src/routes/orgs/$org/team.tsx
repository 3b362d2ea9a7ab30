import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { createFileRoute } from "@tanstack/react-router";
import { useState } from "react";
import { z } from "zod";

import {
  invitationsCreateMutation,
  invitationsDeleteMutation,
  invitationsListOptions,
  invitationsListQueryKey,
  membersDeleteMutation,
  membersListOptions,
  membersListQueryKey,
  membersUpdateMutation,
} from "../../../client/@tanstack/react-query.gen";
import { Field, FormError, useForm } from "../../../components/form";
import { useI18n, type MessageKey } from "../../../i18n";

export const Route = createFileRoute("/orgs/$org/team")({ component: Team });

// Ownership moves by a transfer, never by a role change or an invitation.
const ROLES = ["admin", "developer", "viewer"] as const;
const inviteSchema = z.object({
  email: z.string().trim().min(1, "form.required").email("form.email.invalid"),
  role: z.enum(ROLES),
});

function Team() {
  const { t, language } = useI18n();
  const { org } = Route.useParams();
  const path = { org_id: org };
  const queries = useQueryClient();
  const members = useQuery(membersListOptions({ path }));
  const invitations = useQuery(invitationsListOptions({ path }));
  const update = useMutation(membersUpdateMutation());
  const remove = useMutation(membersDeleteMutation());
  const invite = useMutation(invitationsCreateMutation());
  const revoke = useMutation(invitationsDeleteMutation());
  const [sent, setSent] = useState<string | null>(null);
  const refresh = () =>
    Promise.all([
      queries.invalidateQueries({ queryKey: membersListQueryKey({ path }) }),
      queries.invalidateQueries({ queryKey: invitationsListQueryKey({ path }) }),
    ]);
  const form = useForm({
    schema: inviteSchema,
    initial: { email: "", role: "developer" },
    submit: async (values) => {
      await invite.mutateAsync({ path, body: values });
      setSent(values.email);
      await refresh();
    },
  });
  const date = (iso: string) => new Date(iso).toLocaleDateString(language);
  const error = update.error ?? remove.error ?? revoke.error;
  return (
    <section>
      <h1>{t("team.title")}</h1>
      <h2>{t("team.members")}</h2>
      {error && (
        <p role="alert" className="form-error">
          {t("common.error", { detail: String(error.detail ?? "") })}
        </p>
      )}
      <table className="table">
        <thead>
          <tr>
            <th scope="col">{t("team.email")}</th>
            <th scope="col">{t("team.role")}</th>
            <th scope="col">{t("team.since")}</th>
            <th scope="col">
              <span className="visually-hidden">{t("team.remove")}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {members.data?.data.map((member) => (
            <tr key={member.user_id}>
              <td>{member.email}</td>
              <td>
                {member.role === "owner" ? (
                  t("role.owner")
                ) : (
                <select
                  aria-label={`${t("team.role")}: ${member.email}`}
                  value={member.role}
                  onChange={async (e) => {
                    await update.mutateAsync({ path: { ...path, user_id: member.user_id }, body: { role: e.target.value as (typeof ROLES)[number] } });
                    await refresh();
                  }}
                >
                  {ROLES.map((role) => (
                    <option key={role} value={role}>
                      {t(`role.${role}` as MessageKey)}
                    </option>
                  ))}
                </select>
                )}
              </td>
              <td>{date(member.created_at)}</td>
              <td>
                {member.role !== "owner" && (
                <button
                  type="button"
                  className="secondary"
                  onClick={async () => {
                    if (!window.confirm(t("team.remove.confirm", { email: member.email }))) return;
                    await remove.mutateAsync({ path: { ...path, user_id: member.user_id } });
                    await refresh();
                  }}
                >
                  {t("team.remove")}
                </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <section aria-labelledby="invite" className="card">
        <h2 id="invite">{t("team.invite")}</h2>
        <form className="stack" onSubmit={form.onSubmit} noValidate>
          <Field label={t("team.email")} type="email" value={form.values.email} error={form.errors.email} onValue={(v) => form.set("email", v)} />
          <div className="field">
            <label htmlFor="invite-role">{t("team.role")}</label>
            <select id="invite-role" value={form.values.role} onChange={(e) => form.set("role", e.target.value)}>
              {ROLES.map((role) => (
                <option key={role} value={role}>
                  {t(`role.${role}` as MessageKey)}
                </option>
              ))}
            </select>
          </div>
          <FormError message={form.formError} />
          <button type="submit" disabled={form.pending}>
            {t("team.invite.submit")}
          </button>
          <p role="status">{sent ? t("team.invite.sent", { email: sent }) : ""}</p>
        </form>
      </section>
      {invitations.data && invitations.data.data.length > 0 && (
        <>
          <h2>{t("team.invitations")}</h2>
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{t("team.email")}</th>
                <th scope="col">{t("team.role")}</th>
                <th scope="col">{t("team.expires")}</th>
                <th scope="col">
                  <span className="visually-hidden">{t("team.revoke")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {invitations.data.data.map((invitation) => (
                <tr key={invitation.id}>
                  <td>{invitation.email}</td>
                  <td>{t(`role.${invitation.role}` as MessageKey)}</td>
                  <td>{date(invitation.expires_at)}</td>
                  <td>
                    <button
                      type="button"
                      className="secondary"
                      onClick={async () => {
                        await revoke.mutateAsync({ path: { ...path, invitation_id: invitation.id } });
                        await refresh();
                      }}
                    >
                      {t("team.revoke")}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
