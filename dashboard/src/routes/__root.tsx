import { useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { createRootRouteWithContext, Link, Outlet, useNavigate } from "@tanstack/react-router";

import { authLogout } from "../client";
import { meGetOptions } from "../client/@tanstack/react-query.gen";
import { useSignedIn } from "../features/auth/session";
import { setAccessToken } from "../lib/api";

import { LanguageSwitch } from "../features/site/LanguageSwitch";
import { useI18n } from "../i18n";

export const Route = createRootRouteWithContext<{ queryClient: QueryClient }>()({
  component: Layout,
  notFoundComponent: NotFound,
});

function Layout() {
  const { t } = useI18n();
  const signedIn = useSignedIn();
  const me = useQuery({ ...meGetOptions(), enabled: signedIn });
  const navigate = useNavigate();
  const queries = useQueryClient();
  const signOut = async () => {
    await authLogout().catch(() => undefined);
    setAccessToken(null);
    queries.clear();
    await navigate({ to: "/" });
  };
  return (
    <>
      <a className="skip" href="#main">
        {t("app.skip")}
      </a>
      <header className="site-header">
        <Link to="/" className="brand">
          <img src="/favicon.svg" alt="" width="28" height="28" />
          <span>{t("app.name")}</span>
        </Link>
        <nav aria-label={t("nav.main")}>
          <ul>
            <li>
              <Link to="/pricing" activeProps={{ "aria-current": "page" }}>
                {t("nav.pricing")}
              </Link>
            </li>
            <li>
              <Link to="/docs" activeProps={{ "aria-current": "page" }}>
                {t("nav.docs")}
              </Link>
            </li>
            {signedIn ? (
              <>
                <li>
                  <Link to="/orgs" activeProps={{ "aria-current": "page" }}>
                    {t("nav.dashboard")}
                  </Link>
                </li>
                {me.data?.is_operator && (
                  <li>
                    <Link to="/admin" activeProps={{ "aria-current": "page" }}>
                      {t("nav.admin")}
                    </Link>
                  </li>
                )}
                <li>
                  <Link to="/account" activeProps={{ "aria-current": "page" }}>
                    {t("nav.account")}
                  </Link>
                </li>
                <li>
                  <button type="button" className="secondary" onClick={signOut}>
                    {t("nav.signout")}
                  </button>
                </li>
              </>
            ) : (
              <>
                <li>
                  <Link to="/signin" activeProps={{ "aria-current": "page" }}>
                    {t("nav.signin")}
                  </Link>
                </li>
                <li>
                  <Link to="/signup" className="button" activeProps={{ "aria-current": "page" }}>
                    {t("nav.signup")}
                  </Link>
                </li>
              </>
            )}
          </ul>
        </nav>
        <LanguageSwitch />
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
      <footer className="site-footer">
        <p>{t("footer.text")}</p>
        <p>
          <a href="/demo">{t("footer.demo")}</a> · <a href="/api/docs">{t("footer.api")}</a>
        </p>
      </footer>
    </>
  );
}

function NotFound() {
  const { t } = useI18n();
  return (
    <section className="narrow">
      <h1>{t("notfound.title")}</h1>
      <p>{t("notfound.text")}</p>
      <Link to="/">{t("notfound.home")}</Link>
    </section>
  );
}
