import Box from "@cloudscape-design/components/box";
import { formatNumber, scoreFraction } from "../format";

/** The anomaly score on a fixed 0–1 scale, with the decision threshold marked on it. */
export function ScoreBar({ score, threshold }: { score: number | null; threshold: number | null }) {
  if (score === null || score === undefined) return <Box color="text-status-inactive">–</Box>;
  const hasThreshold = threshold !== null && threshold !== undefined;
  const over = hasThreshold && score >= threshold;
  // Enough digits to tell the score from the threshold when they are close.
  const close = hasThreshold && Math.abs(score - threshold) < 0.005;
  const digits = close ? 5 : 3;
  const label = `anomaly score ${formatNumber(score, digits)} on a 0 to 1 scale${hasThreshold ? `, threshold ${formatNumber(threshold, digits)}` : ""}`;
  return (
    <div>
      <Box variant="awsui-value-large" data-testid="anomaly-score">
        {formatNumber(score, digits)}
        <Box variant="span" fontSize="body-m" color="text-body-secondary">
          {" "}
          / threshold {formatNumber(threshold, digits)}
        </Box>
      </Box>
      <div className="score-bar" role="img" aria-label={label} data-testid="score-bar">
        <div className="fill" style={{ width: `${scoreFraction(score) * 100}%`, background: over ? "#d91515" : "#037f0c" }} />
        {hasThreshold && <div className="threshold" data-testid="score-threshold" style={{ left: `${scoreFraction(threshold) * 100}%` }} />}
      </div>
      <div className="score-scale" aria-hidden="true">
        <span>0</span>
        <span>0.5</span>
        <span>1</span>
      </div>
    </div>
  );
}
