// One labeling job: progress overall and per labeler (a stacked bar chart), the tasks with their
// status and review comments, and the actions the caller may take (label, review, complete).
import BarChart from "@cloudscape-design/components/bar-chart";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import ProgressBar from "@cloudscape-design/components/progress-bar";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { EmptyState } from "../../components/PageTable";
import { usePageActions } from "../../components/actions";
import { navigate, useLoader } from "../../hooks";
import { labelingApi, type LabelingJob, type LabelingTask } from "../api-labeling";
import { usePortal } from "../context";
import { when } from "../format";
import { P, can } from "../permissions";
import { JobStatus, done, taskTypeName } from "./Labeling";

const REFRESH_MS = 5_000;
const TASK_ROWS = 500; // the table shows the first images; the chart and bar count them all
const STATUSES = ["accepted", "submitted", "assigned", "sent_back", "skipped"] as const;

export function TaskStatusBadge({ status }: { status: string }) {
  const type = ({ accepted: "success", submitted: "pending", assigned: "in-progress", sent_back: "warning", skipped: "stopped" } as const)[status as "accepted"] ?? "pending";
  return <StatusIndicator type={type}>{status.replace("_", " ")}</StatusIndicator>;
}

function PerLabeler({ job, names }: { job: LabelingJob; names: Map<string, string> }) {
  const people = Object.keys(job.per_labeler);
  if (!people.length) return <Box color="text-status-inactive">Nobody has claimed an image yet.</Box>;
  const series = STATUSES.map((status) => ({
    title: status.replace("_", " "),
    type: "bar" as const,
    data: people.map((id) => ({ x: names.get(id) ?? id.slice(0, 8), y: job.per_labeler[id][status] ?? 0 })),
  }));
  return (
    <BarChart
      series={series}
      stackedBars
      horizontalBars
      hideFilter
      height={Math.max(80, people.length * 40)}
      xTitle="Labeler"
      yTitle="Images"
      ariaLabel="Images per labeler and status"
      empty={<Box>No work yet</Box>}
    />
  );
}

/** The job page. */
export function LabelingJobPage({ jobId }: { jobId: string }) {
  const { me, usecaseId } = usePortal();
  const uc = usecaseId ?? "";
  const job = useLoader(() => labelingApi.getJob(uc, jobId), [uc, jobId], REFRESH_MS);
  const tasks = useLoader(() => labelingApi.tasks(uc, jobId, { limit: TASK_ROWS }), [uc, jobId], REFRESH_MS);
  const people = useLoader(() => labelingApi.people(uc), [uc]);
  const { busy, act } = usePageActions(async () => { await job.reload(); await tasks.reload(); });
  const j = job.data;
  if (job.error && !j) return <StatusIndicator type="error">{job.error}</StatusIndicator>;
  if (!j || !usecaseId) return <StatusIndicator type="loading">Loading the labeling job</StatusIndicator>;
  const names = new Map((people.data ?? []).map((p) => [p.user_id, p.username]));
  const { finished, total } = done(j.counts);
  const open = j.status === "open";
  const mayWork = can(me, usecaseId, P.LABELING_WORK) && open;
  const complete = () => act("Complete", () => labelingApi.complete(uc, j.id, finished < total), "The job's annotations are exported.");
  return (
    <SpaceBetween size="l">
      <Header
        variant="h1"
        description={`${taskTypeName(j.task_type)} · labels: ${j.labels.join(", ")}`}
        actions={
          <SpaceBetween direction="horizontal" size="xs">
            <Button onClick={() => navigate("/labeling")}>All labeling jobs</Button>
            {mayWork && j.reviewers.includes(me.id) && <Button onClick={() => navigate(`/labeling/${j.id}/review`)} data-testid="labeling-review">Review</Button>}
            {can(me, usecaseId, P.LABELING_WRITE) && open && (
              <Button loading={busy === "Complete"} disabled={!j.counts.accepted} onClick={() => void complete()} data-testid="labeling-complete">Complete and export</Button>
            )}
            {mayWork && j.labelers.includes(me.id) && <Button variant="primary" onClick={() => navigate(`/labeling/${j.id}/label`)} data-testid="labeling-start">Start labeling</Button>}
          </SpaceBetween>
        }
      >
        {j.name}
      </Header>
      <Container header={<Header variant="h2">Progress</Header>}>
        <SpaceBetween size="m">
          <ColumnLayout columns={4} variant="text-grid">
            <div><Box variant="awsui-key-label">Status</Box><JobStatus status={j.status} /></div>
            <div><Box variant="awsui-key-label">Labelers</Box>{j.labelers.map((id) => names.get(id) ?? id.slice(0, 8)).join(", ")}</div>
            <div><Box variant="awsui-key-label">Reviewers</Box>{j.reviewers.map((id) => names.get(id) ?? id.slice(0, 8)).join(", ") || "none (no review step)"}</div>
            <div><Box variant="awsui-key-label">Created</Box>{when(j.created_at)}</div>
          </ColumnLayout>
          <ProgressBar value={total ? (100 * finished) / total : 0} label="Accepted or skipped" additionalInfo={`${finished} of ${total} images; ${j.counts.submitted ?? 0} waiting for review`} />
          <PerLabeler job={j} names={names} />
          {j.output.manifest && (
            <Box data-testid="labeling-output">
              Exported {j.output.images} images as a Ground Truth manifest: {j.output.store_prefix}/{j.output.manifest}
              {j.output.dataset_version_id ? " and a new dataset version." : "."}
            </Box>
          )}
          {j.instructions && <Box variant="p">Instructions: {j.instructions}</Box>}
        </SpaceBetween>
      </Container>
      <Table<LabelingTask>
        header={<Header variant="h2" counter={`(${total})`} description={total > TASK_ROWS ? `The first ${TASK_ROWS} images.` : undefined}>Images</Header>}
        items={tasks.data ?? []}
        loading={tasks.loading && !tasks.data}
        loadingText="Loading the images"
        trackBy="id"
        empty={<EmptyState title="No images" />}
        columnDefinitions={[
          { id: "position", header: "#", cell: (t) => t.position + 1 },
          { id: "status", header: "Status", cell: (t) => <TaskStatusBadge status={t.status} /> },
          { id: "labeler", header: "Labeler", cell: (t) => (t.assignee_id ? names.get(t.assignee_id) ?? "—" : "—") },
          { id: "reviewer", header: "Reviewer", cell: (t) => (t.reviewer_id ? names.get(t.reviewer_id) ?? "—" : "—") },
          { id: "comment", header: "Review comment", cell: (t) => t.comment || "—" },
          { id: "updated", header: "Updated", cell: (t) => when(t.updated_at) },
        ]}
      />
    </SpaceBetween>
  );
}
