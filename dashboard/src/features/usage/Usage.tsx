import { useQuery } from "@tanstack/react-query";
import { lazy, Suspense, useId, useMemo, useState } from "react";

import { usageExport, usageSiteExport, type UsageSeriesPublic } from "../../client";
import { usageOrgOptions, usageSiteOptions } from "../../client/@tanstack/react-query.gen";
import { useI18n, type MessageKey } from "../../i18n";
import type { Series } from "./Chart";

// uPlot loads with the first chart, not with the dashboard.
const Chart = lazy(() => import("./Chart").then((m) => ({ default: m.Chart })));
const RANGES = ["24h", "7d", "30d", "90d", "12m"] as const;
type Range = (typeof RANGES)[number];

/** An org's or a site's usage over a range: totals, a chart, its data table, a CSV download. */
export function Usage({ org, site }: { org: string; site?: string }) {
  const { t, language } = useI18n();
  const id = useId();
  const [range, setRange] = useState<Range>("7d");
  const org_query = useQuery({ ...usageOrgOptions({ path: { org_id: org }, query: { range } }), enabled: !site });
  const site_query = useQuery({ ...usageSiteOptions({ path: { org_id: org, site_id: site ?? "" }, query: { range } }), enabled: !!site });
  const usage: UsageSeriesPublic | undefined = site ? site_query.data : org_query.data;
  const series = useMemo<Series[]>(
    () => [
      { key: "challenges", label: t("usage.challenges"), colour: "#4f86c6" },
      { key: "solves", label: t("usage.solves"), colour: "#d17a22" },
      { key: "verifies", label: t("usage.verifies"), colour: "#2e9e5b" },
    ],
    [t],
  );
  const download = async () => {
    const options = { query: { range }, parseAs: "text" as const, throwOnError: true as const };
    const { data } = site
      ? await usageSiteExport({ ...options, path: { org_id: org, site_id: site } })
      : await usageExport({ ...options, path: { org_id: org } });
    const url = URL.createObjectURL(new Blob([String(data)], { type: "text/csv" }));
    const link = Object.assign(document.createElement("a"), { href: url, download: `haechi-usage-${range}.csv` });
    link.click();
    URL.revokeObjectURL(url);
  };
  const number = (n: number | undefined) => (n ?? 0).toLocaleString(language);
  return (
    <section aria-labelledby={`${id}-title`} className="usage">
      <h2 id={`${id}-title`}>{t("usage.title")}</h2>
      <div className="usage-bar">
        <label htmlFor={`${id}-range`}>{t("usage.range")}</label>
        <select id={`${id}-range`} value={range} onChange={(e) => setRange(e.target.value as Range)}>
          {RANGES.map((r) => (
            <option key={r} value={r}>
              {t(`usage.range.${r}` as MessageKey)}
            </option>
          ))}
        </select>
        <button type="button" className="secondary" onClick={download}>
          {t("usage.export")}
        </button>
      </div>
      {usage && (
        <>
          <dl className="totals">
            {series.map((s) => (
              <div key={s.key}>
                <dt>{s.label}</dt>
                <dd data-testid={`total-${s.key}`}>{number(usage.totals[s.key])}</dd>
              </div>
            ))}
            <div>
              <dt>{t("usage.solveRate")}</dt>
              <dd>{usage.totals.solve_rate == null ? "–" : `${(usage.totals.solve_rate * 100).toFixed(1)} %`}</dd>
            </div>
          </dl>
          {usage.points.length === 0 ? (
            <p>{t("usage.none")}</p>
          ) : (
            <>
              <Suspense fallback={<p>{t("common.loading")}</p>}>
                <Chart points={usage.points} series={series} label={t("usage.chart")} />
              </Suspense>
              <details>
                <summary>{t("usage.table")}</summary>
                <table className="table">
                  <caption className="visually-hidden">{t("usage.chart")}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{t("usage.time")}</th>
                      {series.map((s) => (
                        <th key={s.key} scope="col">
                          {s.label}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {usage.points.map((p) => (
                      <tr key={p.t}>
                        <th scope="row">{new Date(p.t).toLocaleString(language)}</th>
                        {series.map((s) => (
                          <td key={s.key}>{number(p[s.key])}</td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </details>
            </>
          )}
        </>
      )}
    </section>
  );
}
