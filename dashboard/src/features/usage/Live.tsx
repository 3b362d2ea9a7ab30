import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";

import { usageAllLiveOptions, usageLiveOptions } from "../../client/@tanstack/react-query.gen";
import { useI18n } from "../../i18n";

/** The sites right now (an org's, or every site for operators), refetched every five seconds. */
export function Live({ org, all = false }: { org?: string; all?: boolean }) {
  const { t, language } = useI18n();
  const orgLive = useQuery({ ...usageLiveOptions({ path: { org_id: org ?? "" } }), enabled: !all && !!org, refetchInterval: 5_000 });
  const allLive = useQuery({ ...usageAllLiveOptions(), enabled: all, refetchInterval: 5_000 });
  const live = all ? allLive : orgLive;
  const rows = [...(live.data?.data ?? [])].sort((a, b) => b.attack_level - a.attack_level || (b.challenges ?? 0) - (a.challenges ?? 0));
  const numbers = useMemo(() => new Intl.NumberFormat(language), [language]);
  const number = (n: number | undefined) => numbers.format(n ?? 0);
  const sum = (key: "challenges" | "solves" | "verifies") => rows.reduce((total, row) => total + (row[key] ?? 0), 0);
  const attacked = rows.filter((row) => row.attack_level > 0).length;
  const highest = rows.reduce((top, row) => Math.max(top, row.attack_level), 0);
  return (
    <section aria-labelledby="live">
      <h2 id="live">{t("usage.live")}</h2>
      {live.error && (
        <p role="alert" className="form-error">
          {t("common.error", { detail: String((live.error as { detail?: string }).detail ?? "") })}
        </p>
      )}
      {/* Always laid out (dashes until the first answer): the table below does not jump. */}
      <dl className="totals">
        <div>
          <dt>{t("usage.challenges")}</dt>
          <dd data-testid="live-total-challenges">{live.data ? number(sum("challenges")) : "–"}</dd>
        </div>
        <div>
          <dt>{t("usage.solves")}</dt>
          <dd>{live.data ? number(sum("solves")) : "–"}</dd>
        </div>
        <div>
          <dt>{t("usage.verifies")}</dt>
          <dd>{live.data ? number(sum("verifies")) : "–"}</dd>
        </div>
        <div>
          <dt>{t("usage.attack.highest")}</dt>
          <dd data-testid="live-attack-highest">{live.data ? highest : "–"}</dd>
        </div>
        <div>
          <dt>{t("usage.attack.sites")}</dt>
          <dd>{live.data ? number(attacked) : "–"}</dd>
        </div>
      </dl>
      <p className="hint">{live.data ? t("usage.live.at", { time: new Date(live.data.at).toLocaleTimeString(language) }) : "\u00a0"}</p>
      <table className="table" aria-live="off">
        <thead>
          <tr>
            <th scope="col">{t("usage.site")}</th>
            <th scope="col" className="num">{t("usage.challenges")}</th>
            <th scope="col" className="num">{t("usage.solves")}</th>
            <th scope="col" className="num">{t("usage.verifies")}</th>
            <th scope="col" className="num">{t("usage.attack")}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.site_id}>
              <th scope="row">
                {row.name}
                {all && (
                  <>
                    {" "}
                    <code>{row.sitekey}</code>
                  </>
                )}
              </th>
              <td className="num" data-testid={`live-challenges-${row.sitekey}`}>{number(row.challenges)}</td>
              <td className="num">{number(row.solves)}</td>
              <td className="num" data-testid={`live-verifies-${row.sitekey}`}>{number(row.verifies)}</td>
              <td className="num">{row.attack_level}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
