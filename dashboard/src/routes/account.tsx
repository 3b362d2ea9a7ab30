import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { createFileRoute, useNavigate } from "@tanstack/react-router";

import { authLogoutAllMutation, meGetOptions, sessionsDeleteMutation, sessionsListOptions, sessionsListQueryKey } from "../client/@tanstack/react-query.gen";
import { ChangeEmail, ChangePassword, DeleteAccount, Profile } from "../features/accounts/AccountForms";
import { SignInMethods } from "../features/accounts/SignInMethods";
import { TwoFactor } from "../features/accounts/TwoFactor";
import { requireSession } from "../features/auth/session";
import { useI18n } from "../i18n";
import { setAccessToken } from "../lib/api";

export const Route = createFileRoute("/account")({
  beforeLoad: ({ location }) => requireSession(location.href),
  component: Account,
});

function Account() {
  const { t, language } = useI18n();
  const navigate = useNavigate();
  const queries = useQueryClient();
  const me = useQuery(meGetOptions());
  const sessions = useQuery(sessionsListOptions());
  const end = useMutation(sessionsDeleteMutation());
  const endAll = useMutation(authLogoutAllMutation());
  const signOutEverywhere = async () => {
    await endAll.mutateAsync({});
    setAccessToken(null);
    queries.clear();
    await navigate({ to: "/signin" });
  };
  return (
    <section className="narrow wide">
      <h1>{t("account.title")}</h1>
      {me.data && <Profile me={me.data} />}
      {me.data && <TwoFactor enabled={me.data.two_factor ?? false} />}
      <SignInMethods />
      <ChangePassword />
      <ChangeEmail />
      <h2>{t("account.sessions")}</h2>
      <table className="table">
        <thead>
          <tr>
            <th scope="col">{t("account.device")}</th>
            <th scope="col">{t("account.ip")}</th>
            <th scope="col">{t("account.lastSeen")}</th>
            <th scope="col">
              <span className="visually-hidden">{t("account.end")}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {sessions.data?.data.map((session) => (
            <tr key={session.id}>
              <td>
                {session.user_agent}
                {session.current ? ` (${t("account.current")})` : ""}
              </td>
              <td>{session.ip}</td>
              <td>{new Date(session.last_seen_at).toLocaleString(language)}</td>
              <td>
                {!session.current && (
                  <button
                    type="button"
                    className="secondary"
                    onClick={async () => {
                      await end.mutateAsync({ path: { session_id: session.id } });
                      await queries.invalidateQueries({ queryKey: sessionsListQueryKey() });
                    }}
                  >
                    {t("account.end")}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" className="secondary" onClick={signOutEverywhere}>
        {t("account.endAll")}
      </button>
      <DeleteAccount />
    </section>
  );
}
