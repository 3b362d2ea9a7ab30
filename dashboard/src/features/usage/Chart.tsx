import "uplot/dist/uPlot.min.css";

import { useEffect, useRef } from "react";
import uPlot from "uplot";

export interface Line {
  label: string;
  colour: string;
  values: (number | null)[];
}

/** uPlot over one time axis (seconds); the page puts a data table next to it for screen
 * readers. `percent`: values are 0–1 and the axis reads in per cent. */
export function Chart({ times, lines, label, percent = false }: { times: number[]; lines: Line[]; label: string; percent?: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const data: uPlot.AlignedData = [times, ...lines.map((line) => line.values)];
    const axis = { stroke: getComputedStyle(element).color, grid: { stroke: "rgba(128,128,128,0.25)" } };
    const yAxis = percent ? { ...axis, values: (_: uPlot, ticks: number[]) => ticks.map((v) => `${Math.round(v * 100)} %`) } : axis;
    const plot = new uPlot(
      {
        width: Math.max(320, element.clientWidth),
        height: 240,
        series: [{}, ...lines.map((line) => ({ label: line.label, stroke: line.colour, width: 2, spanGaps: false }))],
        scales: percent ? { y: { range: [0, 1] } } : {},
        axes: [axis, yAxis],
      },
      data,
      element,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(320, element.clientWidth), height: 240 }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [times, lines, percent]);
  return <div ref={box} role="img" aria-label={label} className="chart" />;
}
