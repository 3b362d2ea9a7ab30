import { useQuery } from "@tanstack/react-query";
import { createFileRoute, Link } from "@tanstack/react-router";

import { plansListOptions } from "../client/@tanstack/react-query.gen";
import { useSignedIn } from "../features/auth/session";
import { planFacts, won } from "../features/billing/format";
import { useI18n } from "../i18n";

export const Route = createFileRoute("/pricing")({ component: Pricing });

/** The plans this server sells (GET /plans); a server with plans off is the self-hosted case. */
function Pricing() {
  const { t, language } = useI18n();
  // GET /plans answers signed-in users only (for now): visitors see the self-hosted card.
  const signedIn = useSignedIn();
  const plans = useQuery({ ...plansListOptions(), enabled: signedIn });
  return (
    <section>
      <h1>{t("pricing.title")}</h1>
      {plans.data?.enabled ? (
        <>
          <p className="lead">{t("pricing.lead")}</p>
          <ul className="plans">
            {plans.data.data
              .filter((plan) => !plan.custom)
              .map((plan) => (
                <li key={plan.key} className="card plan">
                  <h2>{plan.name}</h2>
                  <p className="price">{plan.price_krw === 0 ? t("plans.free") : t("plans.perMonth", { price: won(plan.price_krw, language) })}</p>
                  <ul>
                    {planFacts(plan, language, t).map((fact) => (
                      <li key={fact}>{fact}</li>
                    ))}
                  </ul>
                  <Link to="/signup" className="button">
                    {t("pricing.start")}
                  </Link>
                </li>
              ))}
          </ul>
          <p className="hint">{t("pricing.vat")}</p>
        </>
      ) : (
        <div className="card narrow">
          <h2>{t("pricing.selfhosted.title")}</h2>
          <p>{t("pricing.selfhosted.text")}</p>
          <a className="button" href="/docs/operations">
            {t("pricing.selfhosted.cta")}
          </a>
        </div>
      )}
    </section>
  );
}
