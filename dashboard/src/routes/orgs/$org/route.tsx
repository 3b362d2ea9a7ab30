import { useQuery } from "@tanstack/react-query";
import { createFileRoute, Link, Outlet } from "@tanstack/react-router";

import { orgsGetOptions, plansListOptions } from "../../../client/@tanstack/react-query.gen";
import { useI18n } from "../../../i18n";

export const Route = createFileRoute("/orgs/$org")({ component: OrgLayout });

function OrgLayout() {
  const { t } = useI18n();
  const { org } = Route.useParams();
  const current = useQuery(orgsGetOptions({ path: { org_id: org } }));
  // Billing is shown only when the operator has turned plans on.
  const plans = useQuery({ ...plansListOptions(), staleTime: 300_000 });
  return (
    <div className="org-layout">
      <nav aria-label={current.data?.name ?? t("orgs.title")} className="org-nav">
        <p className="org-name">{current.data?.name ?? "…"}</p>
        <ul>
          <li>
            <Link to="/orgs/$org/sites" params={{ org }} activeProps={{ "aria-current": "page" }}>
              {t("sites.title")}
            </Link>
          </li>
          <li>
            <Link to="/orgs/$org/analytics" params={{ org }} activeProps={{ "aria-current": "page" }}>
              {t("nav.analytics")}
            </Link>
          </li>
          <li>
            <Link to="/orgs/$org/team" params={{ org }} activeProps={{ "aria-current": "page" }}>
              {t("nav.team")}
            </Link>
          </li>
          <li>
            <Link to="/orgs/$org/api-keys" params={{ org }} activeProps={{ "aria-current": "page" }}>
              {t("nav.keys")}
            </Link>
          </li>
          <li>
            <Link to="/orgs/$org/audit" params={{ org }} activeProps={{ "aria-current": "page" }}>
              {t("nav.audit")}
            </Link>
          </li>
          <li>
            <Link to="/orgs/$org/ip-rules" params={{ org }} activeProps={{ "aria-current": "page" }}>
              {t("nav.iprules")}
            </Link>
          </li>
          {plans.data?.enabled && (
            <li>
              <Link to="/orgs/$org/billing" params={{ org }} activeProps={{ "aria-current": "page" }}>
                {t("nav.billing")}
              </Link>
            </li>
          )}
        </ul>
      </nav>
      <div className="org-main">
        <Outlet />
      </div>
    </div>
  );
}
