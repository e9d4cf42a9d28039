import { useState } from "react";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { AuthImage } from "../../components/AuthImage";
import { usePageActions } from "../../components/actions";
import { navigate, useLoader } from "../../hooks";
import { STAGES, ml, type Stage, type VersionDetail } from "../api-ml";
import { ConfusionMatrix } from "../charts/ConfusionMatrix";
import { shortNumber } from "../charts/curves";
import { humanize, metricRows, orderedPlots, shortHash } from "../charts/format-ml";
import { asMatrix } from "../charts/matrix";
import { usePortal } from "../context";
import { when } from "../format";
import { P, can } from "../permissions";
import { ParityReport } from "./CompilationResults";
import { JobsTable } from "./JobsCommon";
import { TrainingCurves } from "./JobsDetail";
import { StageBadge } from "./Models";
import { BINARY_LABELS, EvaluateDialog } from "./ModelsEvaluation";

function Curves({ usecaseId, jobId }: { usecaseId: string; jobId: string }) {
  const events = useLoader(() => ml.jobEvents(usecaseId, jobId, "metric"), [usecaseId, jobId]);
  if (events.error) return <Box color="text-status-inactive">The training job's curves are not available: {events.error}</Box>;
  return <TrainingCurves events={events.data ?? []} />;
}

function Metrics({ v }: { v: VersionDetail }) {
  const image = (v.metrics.image as Record<string, unknown> | undefined) ?? {};
  const matrix = asMatrix(image.confusion_matrix);
  const rows = metricRows(v.metrics).filter(([k]) => !k.includes("confusion"));
  const labels = matrix && matrix.length === 2 ? BINARY_LABELS : v.class_names;
  return (
    <Container header={<Header variant="h2" description="Measured on the validation split when the model was trained.">Metrics</Header>}>
      <ColumnLayout columns={matrix ? 2 : 1}>
        <KeyValuePairs columns={2} items={rows.slice(0, 16).map(([label, value]) => ({ label, value }))} />
        {matrix && <ConfusionMatrix matrix={matrix} labels={labels} />}
      </ColumnLayout>
    </Container>
  );
}

function StageControl({ v, onChange }: { v: VersionDetail; onChange: (stage: Stage) => Promise<unknown> }) {
  const [stage, setStage] = useState<Stage>(v.stage);
  const { busy, act } = usePageActions(async () => undefined);
  const options = STAGES.map((s) => ({ value: s, label: s }));
  return (
    <SpaceBetween direction="horizontal" size="xs">
      <Select selectedOption={options.find((o) => o.value === stage) ?? null} options={options} onChange={({ detail }) => setStage(detail.selectedOption.value as Stage)} ariaLabel="New stage" data-testid="stage-select" />
      <Button disabled={stage === v.stage} loading={busy === "Change stage"} onClick={() => void act("Change stage", () => onChange(stage), `Moved to ${stage}`)} data-testid="stage-save">
        Change stage
      </Button>
    </SpaceBetween>
  );
}

/** A model version: what it is, metrics and plots, its curves, packages, evaluations, stage. */
export function ModelVersionPage({ versionId }: { versionId: string }) {
  const { me, usecaseId } = usePortal();
  const id = usecaseId ?? "";
  const detail = useLoader(() => ml.getVersion(id, versionId), [id, versionId]);
  const evaluations = useLoader(
    async () => (await ml.listJobs(id, { type: "evaluation" })).filter((j) => (j.parameters.model as { version_id?: string } | undefined)?.version_id === versionId),
    [id, versionId],
    10_000,
  );
  const [evaluating, setEvaluating] = useState(false);
  const v = detail.data;
  if (detail.error && !v) return <StatusIndicator type="error">{detail.error}</StatusIndicator>;
  if (!v) return <StatusIndicator type="loading">Loading the version</StatusIndicator>;
  const mayTrain = can(me, id, P.TRAINING_WRITE);
  const jobId = typeof v.lineage.job_id === "string" ? v.lineage.job_id : null;
  const setStage = async (stage: Stage) => {
    await ml.setStage(id, v.id, stage);
    await detail.reload();
  };
  return (
    <SpaceBetween size="l">
      {evaluating && <EvaluateDialog usecaseId={id} version={v} onClose={() => setEvaluating(false)} />}
      <Header
        variant="h1"
        description={v.description || `${v.model_type} · ${v.source}`}
        actions={
          <SpaceBetween direction="horizontal" size="xs">
            {can(me, id, P.MODEL_WRITE) && <StageControl key={v.stage} v={v} onChange={setStage} />}
            {mayTrain && <Button onClick={() => setEvaluating(true)} data-testid="version-evaluate">Evaluate</Button>}
            {mayTrain && <Button variant="primary" onClick={() => navigate(`/compilation?version=${v.id}`)} data-testid="version-compile">Compile</Button>}
          </SpaceBetween>
        }
      >
        {v.model_name} v{v.version} <StageBadge stage={v.stage} />
      </Header>
      <Container header={<Header variant="h2">Version</Header>}>
        <KeyValuePairs
          columns={4}
          items={[
            { label: "Type", value: v.model_type },
            { label: "Backbone", value: v.backbone || "—" },
            { label: "Input size", value: v.input_size ? v.input_size.join(" × ") : "—" },
            { label: "Threshold", value: shortNumber(v.threshold) },
            { label: "Classes", value: v.class_names.join(", ") || "—" },
            { label: "Artifact SHA-256", value: <span title={v.artifact_sha256}>{shortHash(v.artifact_sha256)}</span> },
            { label: "Created", value: when(v.created_at) },
            { label: "Training job", value: jobId ? <a href={`#/training/${jobId}`}>open</a> : "—" },
          ]}
        />
      </Container>
      <Metrics v={v} />
      {jobId && (
        <Container header={<Header variant="h2">Training curves</Header>}>
          <Curves usecaseId={id} jobId={jobId} />
        </Container>
      )}
      {v.plots.length > 0 && (
        <Container header={<Header variant="h2">Plots</Header>}>
          <ColumnLayout columns={2}>
            {orderedPlots(v.plots).map((p) => (
              <SpaceBetween key={p} size="xxs">
                <Box variant="h3">{humanize(p)}</Box>
                <AuthImage load={() => ml.plot(id, v.id, p)} cacheKey={`${v.id}/${p}`} alt={`${humanize(p)} of ${v.model_name} v${v.version}`} maxHeight={320} testId={`plot-${p}`} />
              </SpaceBetween>
            ))}
          </ColumnLayout>
        </Container>
      )}
      <Container header={<Header variant="h2" counter={`(${v.packages.length})`} description="Compiled and signed for stations, each with its parity-gate report.">Packages</Header>}>
        <ParityReport exports={v.packages.map((p) => ({ target: p.target, precision: p.precision, prefix: p.package_key, parity: p.report }))} />
      </Container>
      <JobsTable jobs={evaluations.data ?? []} loading={evaluations.loading && !evaluations.data} empty="Not evaluated yet" header={<Header variant="h2">Evaluations</Header>} />
      <Table
        header={<Header variant="h2">Stage history</Header>}
        items={v.history}
        trackBy="at"
        empty={<Box textAlign="center">No stage changes</Box>}
        columnDefinitions={[
          { id: "at", header: "When", cell: (h) => when(h.at) },
          { id: "from", header: "From", cell: (h) => h.from_stage ?? "—" },
          { id: "to", header: "To", cell: (h) => h.to_stage },
          { id: "reason", header: "Reason", cell: (h) => h.reason || "—" },
        ]}
      />
    </SpaceBetween>
  );
}
