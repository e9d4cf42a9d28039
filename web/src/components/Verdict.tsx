import Badge from "@cloudscape-design/components/badge";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import { effectiveVerdict, isAnomaly } from "../format";

type Props = { result: { prediction: string; human_classification?: string | null }; size?: "small" | "large" };

/** Green "Normal" / red "Anomaly" (or the defect label), marking a human override. */
export function VerdictBadge({ result, size = "small" }: Props) {
  const { verdict, overridden } = effectiveVerdict(result);
  const text = verdict.charAt(0).toUpperCase() + verdict.slice(1);
  const color = isAnomaly(verdict) ? "red" : "green";
  if (size === "large") {
    return (
      <span className={`verdict verdict-${color}`} data-testid="verdict" data-verdict={verdict}>
        {text}
        {overridden ? " (reviewed)" : ""}
      </span>
    );
  }
  return (
    <span data-verdict={verdict}>
      <Badge color={color}>{text}</Badge>
      {overridden ? " (reviewed)" : ""}
    </span>
  );
}

export function WorkflowStateIndicator({ state, error }: { state: string; error?: string | null }) {
  switch (state) {
    case "running":
      return <StatusIndicator type="success">Running</StatusIndicator>;
    case "starting":
    case "stopping":
      return <StatusIndicator type="in-progress">{state}</StatusIndicator>;
    case "error":
    case "failed":
      return <StatusIndicator type="error">{error ? `Error: ${error}` : "Error"}</StatusIndicator>;
    default:
      return <StatusIndicator type="stopped">{state ? state.charAt(0).toUpperCase() + state.slice(1) : "Stopped"}</StatusIndicator>;
  }
}
