import { useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import Modal from "@cloudscape-design/components/modal";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Textarea from "@cloudscape-design/components/textarea";
import Toggle from "@cloudscape-design/components/toggle";
import { api, type ImageKind, type InferenceResult } from "../api";
import { AuthImage } from "../components/AuthImage";
import { describeError } from "../components/notify";
import { ScoreBar } from "../components/ScoreBar";
import { VerdictBadge } from "../components/Verdict";
import { formatMs, formatPercent, formatTime } from "../format";

const KINDS: { kind: ImageKind; title: string }[] = [
  { kind: "input", title: "Input" },
  { kind: "overlay", title: "Overlay" },
  { kind: "mask", title: "Mask" },
];

function classificationOptions(result: InferenceResult) {
  const values = [...new Set(["normal", "anomaly", ...(result.human_classification ? [result.human_classification] : [])])];
  return [{ label: "Keep the model's verdict", value: "" }, ...values.map((v) => ({ label: v, value: v }))];
}

function Latency({ latency }: { latency: Record<string, number> | null | undefined }) {
  if (!latency || Object.keys(latency).length === 0) return <>–</>;
  return <>{Object.entries(latency).map(([stage, ms]) => `${stage} ${formatMs(ms)}`).join(" · ")}</>;
}

type Props = {
  result: InferenceResult;
  workflowName?: string;
  onClose: () => void;
  onSaved: (result: InferenceResult) => void;
};

/** One result: its images, scores and the human review form. */
export function ResultDetail({ result, workflowName, onClose, onSaved }: Props) {
  const [flag, setFlag] = useState(result.flag_for_review);
  const [human, setHuman] = useState(result.human_classification ?? "");
  const [note, setNote] = useState(result.note ?? "");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const options = classificationOptions(result);
  const dirty = flag !== result.flag_for_review || human !== (result.human_classification ?? "") || note !== (result.note ?? "");

  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      const updated = await api.reviewResult(result.id, { flag_for_review: flag, human_classification: human === "normal" || human === "anomaly" ? human : null, note: note || null });
      onSaved(updated);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  const kinds = KINDS.filter((k) => k.kind !== "mask" || result.has_mask !== false);
  return (
    <Modal
      visible
      size="max"
      onDismiss={onClose}
      header={<Header variant="h2" description={`${formatTime(result.created_at)} · ${result.id}`}>Result</Header>}
      footer={
        <Box float="right">
          <SpaceBetween direction="horizontal" size="xs">
            <Button variant="link" onClick={onClose}>Close</Button>
            <Button variant="primary" disabled={!dirty} loading={busy} onClick={() => void save()} data-testid="review-save">Save review</Button>
          </SpaceBetween>
        </Box>
      }
    >
      <SpaceBetween size="l">
        <div className="image-grid">
          {kinds.map(({ kind, title }) => (
            <figure key={kind}>
              <AuthImage load={() => api.resultImage(result.id, kind)} cacheKey={`${result.id}:${kind}`} alt={`${title} of result ${result.id}`} maxHeight={320} />
              <figcaption>{title}</figcaption>
            </figure>
          ))}
        </div>
        <Container header={<Header variant="h3">Inference</Header>}>
          <KeyValuePairs
            columns={3}
            items={[
              { label: "Verdict", value: <VerdictBadge result={result} /> },
              { label: "Model verdict", value: result.label && result.label !== result.prediction ? `${result.prediction} (${result.label})` : result.prediction },
              { label: "Confidence", value: formatPercent(result.confidence) },
              { label: "Anomaly score", value: <ScoreBar score={result.anomaly_score} threshold={result.threshold} /> },
              { label: "Model", value: result.model_name ? `${result.model_name} v${result.model_version}` : "–" },
              { label: "Workflow", value: workflowName ?? result.workflow_id ?? "–" },
              { label: "Capture", value: [result.capture_type, result.capture_id].filter(Boolean).join(" · ") || "–" },
              { label: "Latency", value: <Latency latency={result.latency_ms} /> },
              {
                label: "Defect area",
                value: result.labels && Object.keys(result.labels).length
                  ? Object.entries(result.labels).map(([k, v]) => `${k} ${Number(v).toFixed(2)}%`).join(", ")
                  : "–",
              },
            ]}
          />
        </Container>
        <Container header={<Header variant="h3" description="Reviewed results feed the next training round through the export.">Review</Header>}>
          <SpaceBetween size="m">
            {error && <Alert type="error" header="Not saved">{error}</Alert>}
            <Toggle checked={flag} onChange={({ detail }) => setFlag(detail.checked)}>Flag for review</Toggle>
            <FormField label="Correct classification" description="Override the model when it was wrong.">
              <Select
                selectedOption={options.find((o) => o.value === human) ?? options[0]}
                options={options}
                onChange={({ detail }) => setHuman(detail.selectedOption.value ?? "")}
              />
            </FormField>
            <FormField label="Note">
              <Textarea value={note} rows={2} onChange={({ detail }) => setNote(detail.value)} placeholder="What was wrong with this part?" />
            </FormField>
          </SpaceBetween>
        </Container>
      </SpaceBetween>
    </Modal>
  );
}
