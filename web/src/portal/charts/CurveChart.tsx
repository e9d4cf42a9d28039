import Box from "@cloudscape-design/components/box";
import { extent, linear, pathOf, shortNumber, ticks, type Series } from "./curves";

// Colour-blind-safe palette (Okabe-Ito), dark enough on white for the 3:1 contrast of graphics.
const COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#7A6A00"];
const W = 560;
const H = 240;
const M = { top: 12, right: 16, bottom: 38, left: 56 };

type Props = {
  series: Series[];
  title: string;
  xTitle: string;
  yTitle: string;
  xDomain?: [number, number];
  yDomain?: [number, number];
  empty?: string;
  testId?: string;
  /** Whole-number x ticks only (epochs). */
  integerX?: boolean;
};

/**
 * A small SVG line chart: one line per series, a dot per point (so a live curve visibly grows),
 * round ticks and a legend. Described to screen readers by its title and the last values.
 */
export function CurveChart({ series, title, xTitle, yTitle, xDomain, yDomain, empty = "No points yet", testId, integerX = false }: Props) {
  const drawn = series.filter((s) => s.points.length > 0);
  const summary = drawn.map((s) => `${s.title}: ${shortNumber(s.points[s.points.length - 1].y)}`).join(", ");
  if (drawn.length === 0) {
    return (
      <div data-testid={testId} data-points={0}>
        <Box textAlign="center" color="text-status-inactive" padding="l">{empty}</Box>
      </div>
    );
  }
  const xd = xDomain ?? extent(drawn, "x");
  const yd = yDomain ?? extent(drawn, "y");
  const sx = linear(xd, [M.left, W - M.right]);
  const sy = linear(yd, [H - M.bottom, M.top]);
  const total = drawn.reduce((n, s) => n + s.points.length, 0);
  return (
    <figure style={{ margin: 0 }} data-testid={testId} data-points={total}>
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-label={`${title}. ${summary}`} style={{ maxWidth: W, display: "block" }}>
        {ticks(yd[0], yd[1], 4).map((t) => (
          <g key={`y${t}`}>
            <line x1={M.left} x2={W - M.right} y1={sy(t)} y2={sy(t)} stroke="#e9ebed" />
            <text x={M.left - 6} y={sy(t) + 4} textAnchor="end" fontSize="11" fill="#414d5c">{shortNumber(t)}</text>
          </g>
        ))}
        {ticks(xd[0], xd[1], 6).filter((t) => !integerX || Number.isInteger(t)).map((t) => (
          <text key={`x${t}`} x={sx(t)} y={H - M.bottom + 16} textAnchor="middle" fontSize="11" fill="#414d5c">{shortNumber(t)}</text>
        ))}
        <line x1={M.left} x2={W - M.right} y1={H - M.bottom} y2={H - M.bottom} stroke="#7d8998" />
        <line x1={M.left} x2={M.left} y1={M.top} y2={H - M.bottom} stroke="#7d8998" />
        <text x={(M.left + W - M.right) / 2} y={H - 4} textAnchor="middle" fontSize="12" fill="#414d5c">{xTitle}</text>
        <text transform={`translate(14 ${(M.top + H - M.bottom) / 2}) rotate(-90)`} textAnchor="middle" fontSize="12" fill="#414d5c">{yTitle}</text>
        {drawn.map((s, i) => (
          <g key={s.key} data-series={s.key}>
            <path d={pathOf(s.points, sx, sy)} fill="none" stroke={COLOURS[i % COLOURS.length]} strokeWidth={2} />
            {s.points.length <= 60 &&
              s.points.map((p) => (
                <circle key={`${p.x}`} cx={sx(p.x)} cy={sy(p.y)} r={3} fill={COLOURS[i % COLOURS.length]} data-testid="curve-point" />
              ))}
          </g>
        ))}
      </svg>
      <figcaption style={{ display: "flex", gap: 16, flexWrap: "wrap", fontSize: 12, paddingLeft: M.left }}>
        {drawn.map((s, i) => (
          <span key={s.key}>
            <span aria-hidden="true" style={{ display: "inline-block", width: 12, height: 3, background: COLOURS[i % COLOURS.length], verticalAlign: "middle", marginRight: 4 }} />
            {s.title} {shortNumber(s.points[s.points.length - 1].y)}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
