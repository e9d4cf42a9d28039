import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import Link from "@cloudscape-design/components/link";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import { usePageActions } from "../../components/actions";
import { navigate } from "../../hooks";
import { TERMINAL, ml, type JobDetail, type JobEvent } from "../api-ml";
import { CurveChart } from "../charts/CurveChart";
import { LOSS_KEYS, QUALITY_KEYS, epochSeries } from "../charts/curves";
import { duration, metricRows } from "../charts/format-ml";
import { usePortal } from "../context";
import { when } from "../format";
import { P, can } from "../permissions";
import { CompilationResultView, PackagingResultView, PublishingResultView } from "./CompilationResults";
import { JobProgress, JobStatus, JobsTable } from "./JobsCommon";
import { useLiveJob } from "./JobsLive";
import { EvaluationResultView } from "./ModelsEvaluation";

export function TrainingCurves({ events }: { events: JobEvent[] }) {
  return (
    <ColumnLayout columns={2}>
      <CurveChart series={epochSeries(events, LOSS_KEYS)} title="Loss per epoch" integerX xTitle="Epoch" yTitle="Loss" testId="loss-chart" empty="No epoch finished yet" />
      <CurveChart series={epochSeries(events, QUALITY_KEYS)} title="Validation quality per epoch" integerX xTitle="Epoch" yTitle="Score" yDomain={[0, 1]} testId="quality-chart" empty="No validation score yet" />
    </ColumnLayout>
  );
}

function Logs({ events }: { events: JobEvent[] }) {
  const lines = events.filter((e) => e.kind === "log").slice(-200);
  return (
    <Container header={<Header variant="h2" counter={`(${lines.length})`} description="The newest 200 lines, live.">Logs</Header>}>
      <pre
        tabIndex={0}
        aria-label="Job log"
        data-testid="job-logs"
        style={{ maxHeight: 260, overflow: "auto", margin: 0, fontSize: 12, whiteSpace: "pre-wrap" }}
      >
        {lines.length ? lines.map((e) => `${new Date(e.at).toLocaleTimeString()} ${e.level.padEnd(7)} ${e.message}`).join("\n") : "No log lines yet."}
      </pre>
    </Container>
  );
}

function Overview({ job, live }: { job: JobDetail; live: boolean }) {
  const over = TERMINAL.includes(job.status);
  const model = job.result.model as { version_id?: string; model_name?: string } | undefined;
  return (
    <Container header={<Header variant="h2">Status</Header>}>
      <SpaceBetween size="m">
        {!over && <JobProgress job={job} />}
        <KeyValuePairs
          columns={4}
          items={[
            { label: "Status", value: <span data-testid="job-status"><JobStatus job={job} /></span> },
            { label: "Current step", value: <span data-testid="job-step">{job.current_step || "—"}</span> },
            { label: "Started", value: when(job.started_at) },
            { label: "Duration", value: duration(job.duration_s) },
            { label: "Attempt", value: String(job.attempt) },
            { label: "Queue", value: job.queue },
            { label: "Live updates", value: live ? <StatusIndicator type="in-progress">streaming</StatusIndicator> : "—" },
            {
              label: "Model",
              value: model?.version_id ? (
                <Link href={`#/models/versions/${model.version_id}`} data-testid="job-model-link">{model.model_name ?? "model"}</Link>
              ) : "—",
            },
          ]}
        />
        {job.error && (
          <Alert type="error" header={job.error}>{job.error_hint || "See the logs below."}</Alert>
        )}
      </SpaceBetween>
    </Container>
  );
}

function TrainingResult({ job }: { job: JobDetail }) {
  const rows = metricRows(job.result.metrics as Record<string, unknown> | undefined);
  if (job.status !== "succeeded" || rows.length === 0) return null;
  return (
    <Container header={<Header variant="h2">Result</Header>}>
      <KeyValuePairs columns={4} items={rows.map(([label, value]) => ({ label, value }))} />
    </Container>
  );
}

/** One job: status, live progress, curves (training), results, pipeline steps, logs; cancel, retry. */
export function JobDetailPage({ jobId }: { jobId: string }) {
  const { me, usecaseId } = usePortal();
  const { job, events, error, live, reload } = useLiveJob(usecaseId ?? "", jobId);
  const { busy, act } = usePageActions(reload);
  const mayWrite = can(me, usecaseId, P.TRAINING_WRITE);
  if (error && !job) return <StatusIndicator type="error">{error}</StatusIndicator>;
  if (!job || !usecaseId) return <StatusIndicator type="loading">Loading the job</StatusIndicator>;
  const over = TERMINAL.includes(job.status);
  const retry = async () => {
    const copy = await ml.retryJob(usecaseId, job.id);
    navigate(`/${job.type === "training" || job.type === "evaluation" ? "training" : "compilation"}/${copy.id}`);
  };
  return (
    <SpaceBetween size="l">
      <Header
        variant="h1"
        description={`${job.type} job ${job.id}`}
        actions={
          mayWrite && (
            <SpaceBetween direction="horizontal" size="xs">
              {!over && (
                <Button loading={busy === "Cancel"} disabled={job.cancel_requested} onClick={() => void act("Cancel", () => ml.cancelJob(usecaseId, job.id), "Cancel requested")} data-testid="job-cancel">
                  Cancel
                </Button>
              )}
              {(job.status === "failed" || job.status === "cancelled") && (
                <Button loading={busy === "Retry"} onClick={() => void act("Retry", retry, "Retry queued")} data-testid="job-retry">Retry</Button>
              )}
            </SpaceBetween>
          )
        }
      >
        {job.name || job.type}
      </Header>
      <Overview job={job} live={live} />
      {job.type === "training" && (
        <Container header={<Header variant="h2" description="Loss and validation scores after each epoch, drawn as they arrive.">Training curves</Header>}>
          <TrainingCurves events={events} />
        </Container>
      )}
      {job.type === "training" && <TrainingResult job={job} />}
      {job.type === "evaluation" && job.status === "succeeded" && <EvaluationResultView job={job} />}
      {job.type === "compilation" && <CompilationResultView job={job} mayWrite={mayWrite} />}
      {job.type === "packaging" && <PackagingResultView job={job} mayWrite={mayWrite} />}
      {job.type === "publishing" && <PublishingResultView job={job} />}
      {job.chain.length > 0 && (
        <JobsTable jobs={job.chain} loading={false} empty="" header={<Header variant="h2" description="The jobs this one started.">Pipeline steps</Header>} />
      )}
      <Logs events={events} />
      {job.status === "queued" && <Box color="text-status-inactive">Waiting for a worker on the {job.queue} queue.</Box>}
    </SpaceBetween>
  );
}
