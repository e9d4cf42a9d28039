import Link from "@cloudscape-design/components/link";
import ProgressBar from "@cloudscape-design/components/progress-bar";
import StatusIndicator, { type StatusIndicatorProps } from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { EmptyState } from "../../components/PageTable";
import type { Job } from "../api-ml";
import { duration } from "../charts/format-ml";
import { when } from "../format";

const STATUS_TYPE: Record<string, StatusIndicatorProps.Type> = {
  queued: "pending",
  running: "in-progress",
  succeeded: "success",
  failed: "error",
  cancelled: "stopped",
};

export function JobStatus({ job }: { job: Pick<Job, "status" | "cancel_requested"> }) {
  const text = job.cancel_requested && job.status === "running" ? "cancelling" : job.status;
  return <StatusIndicator type={STATUS_TYPE[job.status] ?? "info"}>{text}</StatusIndicator>;
}

/** Where a job's page is: training and evaluation under Training, the rest under Compilation. */
export function jobHref(job: Pick<Job, "id" | "type">): string {
  return job.type === "training" || job.type === "evaluation" ? `#/training/${job.id}` : `#/compilation/${job.id}`;
}

export function JobProgress({ job }: { job: Job }) {
  if (job.status !== "running" && job.status !== "queued") return <>{job.current_step || "—"}</>;
  return <ProgressBar value={Math.round(job.progress)} additionalInfo={job.current_step || undefined} ariaLabel={`${job.name} progress`} />;
}

/** A table of jobs with their status and live progress. */
export function JobsTable({ jobs, loading, header, empty, testId }: { jobs: Job[]; loading: boolean; header: React.ReactNode; empty: string; testId?: string }) {
  return (
    <Table
      header={header}
      items={jobs}
      loading={loading}
      loadingText="Loading jobs"
      trackBy="id"
      data-testid={testId}
      empty={<EmptyState title={empty} />}
      columnDefinitions={[
        { id: "name", header: "Name", cell: (j) => <Link href={jobHref(j)}>{j.name || j.type}</Link> },
        { id: "type", header: "Type", cell: (j) => j.type + (j.pipeline ? " (pipeline)" : "") },
        { id: "status", header: "Status", cell: (j) => <JobStatus job={j} /> },
        { id: "progress", header: "Progress", cell: (j) => <JobProgress job={j} />, minWidth: 200 },
        { id: "created", header: "Created", cell: (j) => when(j.created_at) },
        { id: "duration", header: "Duration", cell: (j) => duration(j.duration_s) },
      ]}
    />
  );
}
