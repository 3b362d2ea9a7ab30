import { useQuery } from "@tanstack/react-query";

import { usageLiveOptions } from "../../client/@tanstack/react-query.gen";
import { useI18n } from "../../i18n";

/** The org's sites right now, refetched every five seconds. */
export function Live({ org }: { org: string }) {
  const { t, language } = useI18n();
  const live = useQuery({ ...usageLiveOptions({ path: { org_id: org } }), refetchInterval: 5_000 });
  return (
    <section aria-labelledby="live">
      <h2 id="live">{t("usage.live")}</h2>
      <table className="table" aria-live="off">
        <thead>
          <tr>
            <th scope="col">{t("usage.site")}</th>
            <th scope="col">{t("usage.challenges")}</th>
            <th scope="col">{t("usage.solves")}</th>
            <th scope="col">{t("usage.verifies")}</th>
            <th scope="col">{t("usage.attack")}</th>
          </tr>
        </thead>
        <tbody>
          {live.data?.data.map((row) => (
            <tr key={row.site_id}>
              <th scope="row">{row.name}</th>
              <td data-testid={`live-challenges-${row.sitekey}`}>{(row.challenges ?? 0).toLocaleString(language)}</td>
              <td>{(row.solves ?? 0).toLocaleString(language)}</td>
              <td data-testid={`live-verifies-${row.sitekey}`}>{(row.verifies ?? 0).toLocaleString(language)}</td>
              <td>{row.attack_level}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
