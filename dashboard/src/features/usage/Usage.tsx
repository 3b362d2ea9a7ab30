import { useQuery } from "@tanstack/react-query";
import { lazy, Suspense, useId, useMemo, useState, type ReactNode } from "react";

import { usageExport, usageSiteExport, type UsagePoint, type UsageSeriesPublic } from "../../client";
import { usageAllOptions, usageOrgOptions, usageSiteOptions } from "../../client/@tanstack/react-query.gen";
import { useI18n, type MessageKey } from "../../i18n";
import type { Line } from "./Chart";

// uPlot loads with the first chart, not with the dashboard.
const Chart = lazy(() => import("./Chart").then((m) => ({ default: m.Chart })));
const RANGES = ["24h", "7d", "30d", "90d", "12m"] as const;
type Range = (typeof RANGES)[number];
type Key = "challenges" | "solves" | "verifies";
const KEYS: { key: Key; label: MessageKey; colour: string }[] = [
  { key: "challenges", label: "usage.challenges", colour: "#4f86c6" },
  { key: "solves", label: "usage.solves", colour: "#d17a22" },
  { key: "verifies", label: "usage.verifies", colour: "#2e9e5b" },
];

/** The share of challenges solved in one point (null when there were none). */
export function solveRate(point: Pick<UsagePoint, "challenges" | "solves">): number | null {
  const challenges = point.challenges ?? 0;
  return challenges > 0 ? Math.min(1, (point.solves ?? 0) / challenges) : null;
}

/** The series as CSV, for the operators' view (the org and site views download the API's). */
export function toCsv(points: UsagePoint[]): string {
  const rows = points.map((p) => [p.t, p.challenges ?? 0, p.solves ?? 0, p.verifies ?? 0].join(","));
  return ["time,challenges,solves,verifies", ...rows].join("\n") + "\n";
}

/** An org's, a site's or (operators) every org's usage over a range: totals, charts of the
 * counts and the solve rate, a data table behind each chart, a CSV download. */
export function Usage({ org, site, all = false }: { org?: string; site?: string; all?: boolean }) {
  const { t, language } = useI18n();
  const id = useId();
  const [range, setRange] = useState<Range>("7d");
  const orgQuery = useQuery({ ...usageOrgOptions({ path: { org_id: org ?? "" }, query: { range } }), enabled: !all && !site && !!org });
  const siteQuery = useQuery({ ...usageSiteOptions({ path: { org_id: org ?? "", site_id: site ?? "" }, query: { range } }), enabled: !all && !!site });
  const allQuery = useQuery({ ...usageAllOptions({ query: { range } }), enabled: all });
  const query = all ? allQuery : site ? siteQuery : orgQuery;
  const usage: UsageSeriesPublic | undefined = query.data;
  const times = useMemo(() => usage?.points.map((p) => Date.parse(p.t) / 1000) ?? [], [usage]);
  const counts = useMemo<Line[]>(
    () => KEYS.map((k) => ({ label: t(k.label), colour: k.colour, values: usage?.points.map((p) => p[k.key] ?? 0) ?? [] })),
    [t, usage],
  );
  const rates = useMemo<Line[]>(() => [{ label: t("usage.solveRate"), colour: "#8a5cc7", values: usage?.points.map(solveRate) ?? [] }], [t, usage]);
  const download = async () => {
    let text: string;
    if (all) {
      text = toCsv(usage?.points ?? []);
    } else {
      const options = { query: { range }, parseAs: "text" as const, throwOnError: true as const };
      const { data } = site
        ? await usageSiteExport({ ...options, path: { org_id: org ?? "", site_id: site } })
        : await usageExport({ ...options, path: { org_id: org ?? "" } });
      text = String(data);
    }
    const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
    const link = Object.assign(document.createElement("a"), { href: url, download: `haechi-usage-${range}.csv` });
    link.click();
    URL.revokeObjectURL(url);
  };
  // One formatter each, not one per cell (toLocaleString builds a new one every call).
  const formats = useMemo(() => {
    const granularity = usage?.granularity;
    const dates = new Intl.DateTimeFormat(language, granularity === "month" ? { year: "numeric", month: "long" } : granularity === "day" ? { dateStyle: "medium" } : { dateStyle: "short", timeStyle: "short" });
    return { numbers: new Intl.NumberFormat(language), dates };
  }, [language, usage?.granularity]);
  const number = (n: number | undefined) => formats.numbers.format(n ?? 0);
  const percent = (n: number | null | undefined) => (n == null ? "–" : `${(n * 100).toFixed(1)} %`);
  const when = (iso: string) => formats.dates.format(new Date(iso));
  const totals = usage?.totals;
  return (
    <section aria-labelledby={`${id}-title`} className="usage">
      <h2 id={`${id}-title`}>{t("usage.history")}</h2>
      <div className="usage-bar">
        <label htmlFor={`${id}-range`}>{t("usage.range")}</label>
        <select id={`${id}-range`} value={range} onChange={(e) => setRange(e.target.value as Range)}>
          {RANGES.map((r) => (
            <option key={r} value={r}>
              {t(`usage.range.${r}` as MessageKey)}
            </option>
          ))}
        </select>
        <button type="button" className="secondary" onClick={download} disabled={!usage}>
          {t("usage.export")}
        </button>
      </div>
      {query.error && (
        <p role="alert" className="form-error">
          {t("common.error", { detail: String((query.error as { detail?: string }).detail ?? "") })}
        </p>
      )}
      <dl className="totals">
        {KEYS.map((k) => (
          <div key={k.key}>
            <dt>{t(k.label)}</dt>
            <dd data-testid={totals ? `total-${k.key}` : undefined}>{totals ? number(totals[k.key]) : "–"}</dd>
          </div>
        ))}
        <div>
          <dt>{t("usage.solveRate")}</dt>
          <dd data-testid="total-solve-rate">{totals ? percent(totals.solve_rate) : "–"}</dd>
        </div>
        <div>
          <dt>{t("usage.unsolved")}</dt>
          <dd>{totals ? number(Math.max(0, (totals.challenges ?? 0) - (totals.solves ?? 0))) : "–"}</dd>
        </div>
      </dl>
      {/* The chart's place is kept while the numbers load (no layout shift). */}
      {!usage && <div className="chart" aria-hidden="true" />}
      {usage && totals && (
        <>
          {usage.points.length === 0 ? (
            <p>{t("usage.none")}</p>
          ) : (
            <>
              <h3>{t("usage.chart")}</h3>
              <Suspense fallback={<div className="chart">{t("common.loading")}</div>}>
                <Chart times={times} lines={counts} label={t("usage.chart")} />
              </Suspense>
              <DataTable summary={t("usage.table")}>
                <table className="table">
                  <caption className="visually-hidden">{t("usage.chart")}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{t("usage.time")}</th>
                      {KEYS.map((k) => (
                        <th key={k.key} scope="col" className="num">
                          {t(k.label)}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {usage.points.map((p) => (
                      <tr key={p.t}>
                        <th scope="row">{when(p.t)}</th>
                        {KEYS.map((k) => (
                          <td key={k.key} className="num">
                            {number(p[k.key])}
                          </td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </DataTable>
              <h3>{t("usage.rateChart")}</h3>
              <Suspense fallback={<div className="chart">{t("common.loading")}</div>}>
                <Chart times={times} lines={rates} label={t("usage.rateChart")} percent />
              </Suspense>
              <DataTable summary={t("usage.table")}>
                <table className="table">
                  <caption className="visually-hidden">{t("usage.rateChart")}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{t("usage.time")}</th>
                      <th scope="col" className="num">
                        {t("usage.solveRate")}
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {usage.points.map((p) => (
                      <tr key={p.t}>
                        <th scope="row">{when(p.t)}</th>
                        <td className="num">{percent(solveRate(p))}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </DataTable>
            </>
          )}
          <p className="hint">{t("usage.breakdown.pending")}</p>
        </>
      )}
    </section>
  );
}

/** A chart's data table behind a disclosure; its rows are built when it is first opened (a
 * closed <details> is not in the accessibility tree either, and hundreds of rows cost time). */
function DataTable({ summary, children }: { summary: string; children: ReactNode }) {
  const [opened, setOpened] = useState(false);
  return (
    <details onToggle={(event) => event.currentTarget.open && setOpened(true)}>
      <summary>{summary}</summary>
      {opened && children}
    </details>
  );
}
