import { useQuery } from "@tanstack/react-query";
import { createFileRoute, Link } from "@tanstack/react-router";
import { useState } from "react";

import { sitesListOptions } from "../../../../client/@tanstack/react-query.gen";
import type { SiteCreated } from "../../../../client";
import { SecretOnce } from "../../../../features/sites/SecretOnce";
import { SiteCreateForm } from "../../../../features/sites/SiteCreateForm";
import { Sparkline } from "../../../../features/sites/Sparkline";
import { useI18n, type MessageKey } from "../../../../i18n";

export const Route = createFileRoute("/orgs/$org/sites/")({ component: Sites });

function Sites() {
  const { t } = useI18n();
  const { org } = Route.useParams();
  const sites = useQuery(sitesListOptions({ path: { org_id: org } }));
  const [created, setCreated] = useState<SiteCreated | null>(null);
  return (
    <section>
      <h1>{t("sites.title")}</h1>
      {sites.isPending && <p>{t("common.loading")}</p>}
      {sites.data && sites.data.data.length === 0 && <p>{t("sites.none")}</p>}
      {sites.data && sites.data.data.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">{t("sites.name")}</th>
              <th scope="col">{t("sites.sitekey")}</th>
              <th scope="col">{t("sites.level")}</th>
              <th scope="col">{t("sites.status")}</th>
              <th scope="col">{t("sites.last24h")}</th>
            </tr>
          </thead>
          <tbody>
            {sites.data.data.map((site) => (
              <tr key={site.id}>
                <td>
                  <Link to="/orgs/$org/sites/$site" params={{ org, site: site.id }}>
                    {site.name}
                  </Link>
                </td>
                <td>
                  <code>{site.sitekey}</code>
                </td>
                <td>{t(`level.${site.security_level}` as MessageKey)}</td>
                <td>{site.active ? t("sites.active") : t("sites.paused")}</td>
                <td>
                  <Sparkline org={org} site={site.id} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <details className="card" open={sites.data?.data.length === 0 || created !== null}>
        <summary>{t("sites.add")}</summary>
        {created ? <SecretOnce sitekey={created.sitekey} secret={created.secret} /> : <SiteCreateForm orgId={org} onCreated={setCreated} />}
      </details>
    </section>
  );
}
