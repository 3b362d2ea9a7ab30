import "uplot/dist/uPlot.min.css";

import { useEffect, useRef } from "react";
import uPlot from "uplot";

import type { UsagePoint } from "../../client";

export interface Series {
  key: "challenges" | "solves" | "verifies";
  label: string;
  colour: string;
}

/** uPlot over the usage points; the page puts a data table next to it for screen readers. */
export function Chart({ points, series, label }: { points: UsagePoint[]; series: Series[]; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const data: uPlot.AlignedData = [
      points.map((p) => Date.parse(p.t) / 1000),
      ...series.map((s) => points.map((p) => p[s.key] ?? 0)),
    ];
    const axis = { stroke: getComputedStyle(element).color, grid: { stroke: "rgba(128,128,128,0.25)" } };
    const plot = new uPlot(
      {
        width: Math.max(320, element.clientWidth),
        height: 260,
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.colour, width: 2 }))],
        axes: [axis, axis],
      },
      data,
      element,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(320, element.clientWidth), height: 260 }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [points, series]);
  return <div ref={box} role="img" aria-label={label} className="chart" />;
}
