import { useState } from "react";
import Button from "@cloudscape-design/components/button";
import Header from "@cloudscape-design/components/header";
import SegmentedControl from "@cloudscape-design/components/segmented-control";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { navigate, useLoader } from "../../hooks";
import { ml } from "../api-ml";
import { usePortal } from "../context";
import { P, can } from "../permissions";
import { JobsTable } from "./JobsCommon";
import { NoUseCase } from "./NoUseCase";
import { TrainingCreateDialog } from "./TrainingCreate";

/** Training and evaluation jobs of the use case (refreshed every 3 s), and the training form. */
export function TrainingPage() {
  const { me, usecaseId } = usePortal();
  const [creating, setCreating] = useState(false);
  const [type, setType] = useState<"training" | "evaluation">("training");
  const jobs = useLoader(() => (usecaseId ? ml.listJobs(usecaseId, { type }) : Promise.resolve([])), [usecaseId, type], 3_000);
  if (!usecaseId) return <NoUseCase />;
  return (
    <>
      {creating && <TrainingCreateDialog onClose={() => setCreating(false)} onCreated={(job) => { setCreating(false); navigate(`/training/${job.id}`); }} />}
      <JobsTable
        testId="training-jobs"
        jobs={jobs.data ?? []}
        loading={jobs.loading && !jobs.data}
        empty={type === "training" ? "No training jobs yet" : "No evaluations yet"}
        header={
          <Header
            variant="h1"
            counter={jobs.data ? `(${jobs.data.length})` : undefined}
            description="Train a model on a dataset version; follow its curves live."
            actions={
              <SpaceBetween direction="horizontal" size="xs">
                <SegmentedControl
                  selectedId={type}
                  label="Job type"
                  options={[{ id: "training", text: "Training" }, { id: "evaluation", text: "Evaluation" }]}
                  onChange={({ detail }) => setType(detail.selectedId as "training" | "evaluation")}
                />
                {can(me, usecaseId, P.TRAINING_WRITE) && (
                  <Button variant="primary" onClick={() => setCreating(true)} data-testid="training-create">Start training</Button>
                )}
              </SpaceBetween>
            }
          >
            Training
          </Header>
        }
      />
    </>
  );
}
