import Box from "@cloudscape-design/components/box";
import { formatNumber } from "../format";

/** The anomaly score against the decision threshold, on a scale that shows both. */
export function ScoreBar({ score, threshold }: { score: number | null; threshold: number | null }) {
  if (score === null || score === undefined) return <Box color="text-status-inactive">–</Box>;
  const scale = Math.max(score, threshold ?? 0, 1e-9) * 1.25;
  const over = threshold !== null && threshold !== undefined && score >= threshold;
  // Enough digits to tell the score from the threshold when they are close.
  const close = threshold !== null && threshold !== undefined && Math.abs(score - threshold) < 0.005;
  const digits = close ? 5 : 3;
  return (
    <div>
      <Box variant="awsui-value-large" data-testid="anomaly-score">
        {formatNumber(score, digits)}
        <Box variant="span" fontSize="body-m" color="text-body-secondary">
          {" "}
          / threshold {formatNumber(threshold, digits)}
        </Box>
      </Box>
      <div className="score-bar" aria-label={`score ${score} threshold ${threshold}`}>
        <div className="fill" style={{ width: `${(score / scale) * 100}%`, background: over ? "#d91515" : "#037f0c" }} />
        {threshold !== null && threshold !== undefined && <div className="threshold" style={{ left: `${(threshold / scale) * 100}%` }} />}
      </div>
    </div>
  );
}
