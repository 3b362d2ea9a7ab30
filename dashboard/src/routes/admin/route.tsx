import { createFileRoute, Link, Outlet } from "@tanstack/react-router";

import { requireSession } from "../../features/auth/session";
import { useI18n } from "../../i18n";

export const Route = createFileRoute("/admin")({
  beforeLoad: ({ location }) => requireSession(location.href),
  component: AdminLayout,
});

/** Operators only: the API answers 403 to anyone else, and each page shows that answer. */
function AdminLayout() {
  const { t } = useI18n();
  const current = { "aria-current": "page" } as const;
  return (
    <>
      <nav aria-label={t("admin.title")}>
        <ul className="subnav">
          <li>
            <Link to="/admin" activeOptions={{ exact: true }} activeProps={current}>
              {t("admin.orgs")}
            </Link>
          </li>
          <li>
            <Link to="/admin/users" activeProps={current}>
              {t("admin.users")}
            </Link>
          </li>
          <li>
            <Link to="/admin/traffic" activeProps={current}>
              {t("admin.traffic")}
            </Link>
          </li>
          <li>
            <Link to="/admin/mail" activeProps={current}>
              {t("admin.mail")}
            </Link>
          </li>
        </ul>
      </nav>
      <Outlet />
    </>
  );
}
