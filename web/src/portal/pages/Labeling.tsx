// The Labeling page: the use case's labeling jobs with progress per labeler, and the create dialog
// (every choice a dropdown: source folder or dataset version, task type, team members, model).
import { useState } from "react";
import Button from "@cloudscape-design/components/button";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Link from "@cloudscape-design/components/link";
import Multiselect from "@cloudscape-design/components/multiselect";
import ProgressBar from "@cloudscape-design/components/progress-bar";
import Select, { type SelectProps } from "@cloudscape-design/components/select";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import Textarea from "@cloudscape-design/components/textarea";
import { EditDialog } from "../../components/Dialogs";
import { EmptyState } from "../../components/PageTable";
import { useSubmit } from "../../components/actions";
import { navigate, useLoader } from "../../hooks";
import { FINISHED, labelingApi, type LabelingJob, type LabelingSource } from "../api-labeling";
import { usePortal } from "../context";
import { when } from "../format";
import type { TaskType } from "../labeling/doc";
import { P, can } from "../permissions";
import { NoUseCase } from "./NoUseCase";

export const TASK_TYPES: { value: TaskType; label: string; description: string }[] = [
  { value: "classification", label: "Image classification", description: "one label per image" },
  { value: "bounding_box", label: "Bounding boxes", description: "a box around each defect" },
  { value: "polygon", label: "Polygons", description: "an outline around each defect" },
  { value: "mask", label: "Segmentation mask", description: "paint defects with a brush" },
];

export function taskTypeName(type: string): string {
  return TASK_TYPES.find((t) => t.value === type)?.label ?? type;
}

/** Finished (accepted or skipped) and total images of a job. */
export function done(counts: Record<string, number>): { finished: number; total: number } {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const finished = FINISHED.reduce((n, s) => n + (counts[s] ?? 0), 0);
  return { finished, total };
}

export function JobStatus({ status }: { status: string }) {
  return <StatusIndicator type={status === "completed" ? "success" : status === "open" ? "in-progress" : "stopped"}>{status}</StatusIndicator>;
}

type SourceOption = SelectProps.Option & { source: LabelingSource };

function useSources(usecaseId: string) {
  return useLoader(async () => {
    const [folders, versions] = await Promise.all([
      labelingApi.dataFolders(usecaseId).catch(() => []),
      labelingApi.datasetVersions(usecaseId).catch(() => []),
    ]);
    const options: SelectProps.OptionGroup[] = [
      { label: "Data folders", options: folders.map((f) => ({ value: `folder:${f.path}`, label: f.path, source: { data_folder: f.path } }) as SourceOption) },
      {
        label: "Dataset versions",
        options: versions.map(({ dataset, version }) => ({
          value: `version:${version.id}`,
          label: `${dataset.name} v${version.number}`,
          description: `${version.image_count} images`,
          source: { dataset_version_id: version.id },
        }) as SourceOption),
      },
    ];
    return options.filter((g) => g.options.length);
  }, [usecaseId]);
}

function CreateDialog({ usecaseId, onClose, onCreated }: { usecaseId: string; onClose: () => void; onCreated: (job: LabelingJob) => void }) {
  const sources = useSources(usecaseId);
  const members = useLoader(() => labelingApi.people(usecaseId), [usecaseId]);
  const models = useLoader(() => labelingApi.modelVersions(usecaseId).catch(() => []), [usecaseId]);
  const [name, setName] = useState("");
  const [type, setType] = useState<TaskType>("bounding_box");
  const [labels, setLabels] = useState("normal, anomaly");
  const [instructions, setInstructions] = useState("");
  const [source, setSource] = useState<SourceOption | null>(null);
  const [labelers, setLabelers] = useState<readonly SelectProps.Option[]>([]);
  const [reviewers, setReviewers] = useState<readonly SelectProps.Option[]>([]);
  const [model, setModel] = useState<SelectProps.Option | null>(null);
  const { busy, failure, setFailure, run } = useSubmit();
  const people = (members.data ?? []).filter((m) => m.role !== "Viewer" && m.role !== "Operator").map((m) => ({ value: m.username, label: m.username, description: m.role }));
  const modelOptions = [{ value: "", label: "No pre-labels" }, ...(models.data ?? []).map((v) => ({ value: v.id, label: `${v.model_name} v${v.version}`, description: v.stage }))];
  const save = () => {
    const names = labels.split(",").map((l) => l.trim()).filter(Boolean);
    if (!name.trim()) return setFailure("Enter a name.");
    if (!source) return setFailure("Choose the images to label.");
    if (!names.length) return setFailure("Enter the labels, separated by commas.");
    if (!labelers.length) return setFailure("Choose at least one labeler.");
    void run(async () =>
      onCreated(
        await labelingApi.createJob(usecaseId, {
          name: name.trim(),
          task_type: type,
          labels: names,
          instructions,
          source: source.source,
          labelers: labelers.map((o) => o.value ?? ""),
          reviewers: reviewers.map((o) => o.value ?? ""),
          prelabel_model: model?.value ? { version_id: model.value } : null,
        }),
      ),
    );
  };
  return (
    <EditDialog header="Create labeling job" saveTestId="labeling-save" busy={busy} failure={failure} onSave={save} onClose={onClose}>
      <FormField label="Name">
        <Input value={name} onChange={({ detail }) => setName(detail.value)} ariaLabel="Job name" data-testid="labeling-name" />
      </FormField>
      <FormField label="Images" description="A data folder or a dataset version of this use case.">
        <Select
          selectedOption={source}
          options={sources.data ?? []}
          onChange={({ detail }) => setSource(detail.selectedOption as SourceOption)}
          placeholder="Choose"
          empty="Upload images in Data management first"
          statusType={sources.loading ? "loading" : "finished"}
          filteringType="auto"
          ariaLabel="Images to label"
          data-testid="labeling-source"
        />
      </FormField>
      <FormField label="Task type">
        <Select
          selectedOption={TASK_TYPES.find((t) => t.value === type) ?? null}
          options={TASK_TYPES}
          onChange={({ detail }) => setType(detail.selectedOption.value as TaskType)}
          ariaLabel="Task type"
          data-testid="labeling-type"
        />
      </FormField>
      <FormField label="Labels" description={type === "classification" ? "Comma-separated; the first is the normal class." : "Comma-separated defect classes; keys 1-9 pick them."}>
        <Input value={labels} onChange={({ detail }) => setLabels(detail.value)} ariaLabel="Labels, comma-separated" data-testid="labeling-labels" />
      </FormField>
      <FormField label="Labelers">
        <Multiselect selectedOptions={labelers} options={people} onChange={({ detail }) => setLabelers(detail.selectedOptions)} placeholder="Choose team members" ariaLabel="Labelers" data-testid="labeling-labelers" />
      </FormField>
      <FormField label="Reviewers (optional)" description="Without reviewers, submissions are accepted directly.">
        <Multiselect selectedOptions={reviewers} options={people} onChange={({ detail }) => setReviewers(detail.selectedOptions)} placeholder="Choose team members" ariaLabel="Reviewers" data-testid="labeling-reviewers" />
      </FormField>
      <FormField label="Pre-labels (optional)" description="A model's guesses as editable starting annotations.">
        <Select selectedOption={model ?? modelOptions[0]} options={modelOptions} onChange={({ detail }) => setModel(detail.selectedOption)} ariaLabel="Pre-label model" statusType={models.loading ? "loading" : "finished"} />
      </FormField>
      <FormField label="Instructions (optional)">
        <Textarea value={instructions} onChange={({ detail }) => setInstructions(detail.value)} rows={3} ariaLabel="Instructions for the labelers" />
      </FormField>
    </EditDialog>
  );
}

/** The labeling jobs of the current use case (refreshed every 5 s). */
export function LabelingPage() {
  const { me, usecaseId } = usePortal();
  const [creating, setCreating] = useState(false);
  const list = useLoader(() => (usecaseId ? labelingApi.listJobs(usecaseId) : Promise.resolve([])), [usecaseId], 5_000);
  if (!usecaseId) return <NoUseCase />;
  return (
    <>
      {creating && (
        <CreateDialog usecaseId={usecaseId} onClose={() => setCreating(false)} onCreated={(job) => { setCreating(false); navigate(`/labeling/${job.id}`); }} />
      )}
      <Table
        header={
          <Header
            variant="h1"
            counter={list.data ? `(${list.data.length})` : undefined}
            description="Label images in the browser; a reviewer accepts or sends back each one."
            actions={can(me, usecaseId, P.LABELING_WRITE) && <Button variant="primary" onClick={() => setCreating(true)} data-testid="labeling-create">Create labeling job</Button>}
          >
            Labeling
          </Header>
        }
        items={list.data ?? []}
        loading={list.loading && !list.data}
        loadingText="Loading labeling jobs"
        trackBy="id"
        empty={<EmptyState title="No labeling jobs yet" />}
        columnDefinitions={[
          { id: "name", header: "Name", cell: (j) => <Link href={`#/labeling/${j.id}`}>{j.name}</Link> },
          { id: "type", header: "Task type", cell: (j) => taskTypeName(j.task_type) },
          { id: "status", header: "Status", cell: (j) => <JobStatus status={j.status} /> },
          {
            id: "progress",
            header: "Progress",
            cell: (j) => {
              const { finished, total } = done(j.counts);
              return <ProgressBar value={total ? (100 * finished) / total : 0} additionalInfo={`${finished} of ${total} images`} ariaLabel={`${j.name} progress`} />;
            },
          },
          { id: "labelers", header: "Labelers", cell: (j) => j.labelers.length },
          { id: "created", header: "Created", cell: (j) => when(j.created_at) },
        ]}
      />
    </>
  );
}
