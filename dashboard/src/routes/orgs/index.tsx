import { useQuery } from "@tanstack/react-query";
import { createFileRoute, Link } from "@tanstack/react-router";

import { orgsListOptions } from "../../client/@tanstack/react-query.gen";
import { useI18n } from "../../i18n";

export const Route = createFileRoute("/orgs/")({ component: Orgs });

function Orgs() {
  const { t } = useI18n();
  const orgs = useQuery(orgsListOptions());
  return (
    <section className="narrow">
      <h1>{t("orgs.title")}</h1>
      {orgs.isPending && <p>{t("common.loading")}</p>}
      {orgs.data && orgs.data.data.length === 0 && (
        <p>
          {t("orgs.none")}{" "}
          <Link to="/onboarding" className="button">
            {t("orgs.start")}
          </Link>
        </p>
      )}
      <ul className="cards">
        {orgs.data?.data.map((org) => (
          <li key={org.id} className="card">
            <Link to="/orgs/$org/sites" params={{ org: org.id }}>
              {org.name}
            </Link>
            <p className="hint">
              {org.role ? t("orgs.role", { role: org.role }) : null}
              {org.suspended ? ` · ${t("orgs.suspended")}` : null}
            </p>
          </li>
        ))}
      </ul>
    </section>
  );
}
