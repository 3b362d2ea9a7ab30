import { useQuery } from "@tanstack/react-query";

import { usageSiteOptions } from "../../client/@tanstack/react-query.gen";
import { useI18n } from "../../i18n";

/** A site's challenges over the last 24 hours as a small line; the total is its text. */
export function Sparkline({ org, site }: { org: string; site: string }) {
  const { t, language } = useI18n();
  const usage = useQuery({ ...usageSiteOptions({ path: { org_id: org, site_id: site }, query: { range: "24h" } }), staleTime: 60_000 });
  if (!usage.data) return <span className="hint">…</span>;
  const values = usage.data.points.map((p) => p.challenges ?? 0);
  const total = usage.data.totals.challenges ?? 0;
  const top = Math.max(1, ...values);
  const width = 96;
  const height = 24;
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / top) * (height - 2)).toFixed(1)}`).join(" ");
  return (
    <span className="spark">
      {values.length > 1 && (
        <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} aria-hidden="true" focusable="false">
          <polyline points={points} fill="none" stroke="currentColor" strokeWidth="1.5" />
        </svg>
      )}
      <span>{t("sites.spark", { n: total.toLocaleString(language) })}</span>
    </span>
  );
}
