import { createFileRoute } from "@tanstack/react-router";

import { useI18n } from "../i18n";

export const Route = createFileRoute("/pricing")({ component: Pricing });

// The platform API has no plans yet (the usage and billing issue); until it does, this server
// has no plans to show, which is exactly the self-hosted case.
function Pricing() {
  const { t } = useI18n();
  return (
    <section className="narrow">
      <h1>{t("pricing.title")}</h1>
      <div className="card">
        <h2>{t("pricing.selfhosted.title")}</h2>
        <p>{t("pricing.selfhosted.text")}</p>
        <a className="button" href="/docs/operations">
          {t("pricing.selfhosted.cta")}
        </a>
      </div>
    </section>
  );
}
