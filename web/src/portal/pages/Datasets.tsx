import { useState } from "react";
import Button from "@cloudscape-design/components/button";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Link from "@cloudscape-design/components/link";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import Textarea from "@cloudscape-design/components/textarea";
import { EditDialog } from "../../components/Dialogs";
import { EmptyState } from "../../components/PageTable";
import { useSubmit } from "../../components/actions";
import { useNotify } from "../../components/notify";
import { navigate, useLoader } from "../../hooks";
import { dataApi, type Dataset } from "../api-data";
import { usePortal } from "../context";
import { when } from "../format";
import { P, can } from "../permissions";
import { CreateVersionDialog } from "./DatasetsCreate";
import { NoUseCase } from "./NoUseCase";

function CreateDatasetDialog({ usecaseId, onClose, onCreated }: { usecaseId: string; onClose: () => void; onCreated: (d: Dataset) => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const { busy, failure, setFailure, run } = useSubmit();
  const save = () => {
    if (!name.trim()) return setFailure("Enter a name.");
    void run(async () => onCreated(await dataApi.createDataset(usecaseId, name.trim(), description)));
  };
  return (
    <EditDialog header="Create dataset" saveTestId="dataset-save" busy={busy} failure={failure} onSave={save} onClose={onClose}>
      <FormField label="Name" description="Letters, digits, spaces, '.', '_' or '-'.">
        <Input value={name} onChange={({ detail }) => setName(detail.value)} ariaLabel="Dataset name" data-testid="dataset-name" />
      </FormField>
      <FormField label="Description">
        <Textarea value={description} onChange={({ detail }) => setDescription(detail.value)} ariaLabel="Description" />
      </FormField>
    </EditDialog>
  );
}

function Versions({ usecaseId, dataset }: { usecaseId: string; dataset: Dataset }) {
  const versions = useLoader(() => dataApi.listVersions(usecaseId, dataset.id), [usecaseId, dataset.id, dataset.versions]);
  return (
    <Table
      header={<Header variant="h2" counter={`(${versions.data?.length ?? 0})`}>Versions of {dataset.name}</Header>}
      items={versions.data ?? []}
      loading={versions.loading && !versions.data}
      loadingText="Loading versions"
      trackBy="id"
      empty={<EmptyState title="No version yet" subtitle="Create one from labels, folders or a labeling job." />}
      columnDefinitions={[
        { id: "number", header: "Version", cell: (v) => <Link href={`#/datasets/${dataset.id}/versions/${v.id}`} data-testid="version-link">v{v.number}</Link> },
        { id: "images", header: "Images", cell: (v) => v.image_count },
        { id: "classes", header: "Classes", cell: (v) => (v.classes.class_names ?? []).join(", ") || "—" },
        { id: "split", header: "Train / val / test", cell: (v) => ["train", "val", "test"].map((s) => v.split.counts?.[s as "train"] ?? 0).join(" / ") },
        { id: "source", header: "Made from", cell: (v) => `${v.source}${v.label_format ? ` (${v.label_format})` : ""}` },
        { id: "report", header: "Validation", cell: (v) => <StatusIndicator type={v.report.warnings ? "warning" : "success"}>{v.report.warnings ? `${v.report.warnings} warnings` : "ok"}</StatusIndicator> },
        { id: "created", header: "Created", cell: (v) => when(v.created_at) },
      ]}
    />
  );
}

/** Datasets of the current use case, their versions, and making new versions. */
export function DatasetsPage({ params }: { params: URLSearchParams }) {
  const { me, usecaseId } = usePortal();
  const notify = useNotify();
  const datasets = useLoader(() => (usecaseId ? dataApi.listDatasets(usecaseId) : Promise.resolve([])), [usecaseId]);
  const [selectedId, setSelectedId] = useState<string | null>(params.get("dataset"));
  const [dialog, setDialog] = useState<"dataset" | "version" | null>(params.get("create") ? "version" : null);
  if (!usecaseId) return <NoUseCase />;
  const items = datasets.data ?? [];
  const selected = items.find((d) => d.id === selectedId) ?? items[0] ?? null;
  const mayWrite = can(me, usecaseId, P.DATASET_WRITE);
  return (
    <SpaceBetween size="l">
      <Table
        header={
          <Header variant="h1" counter={`(${items.length})`} description="Immutable, versioned sets of labeled images for training."
            actions={mayWrite && (
              <SpaceBetween direction="horizontal" size="xs">
                <Button onClick={() => setDialog("dataset")} data-testid="dataset-create">Create dataset</Button>
                <Button variant="primary" onClick={() => setDialog("version")} data-testid="version-create">Create version</Button>
              </SpaceBetween>
            )}>
            Datasets
          </Header>
        }
        items={items}
        loading={datasets.loading && !datasets.data}
        loadingText="Loading datasets"
        selectionType="single"
        selectedItems={selected ? [selected] : []}
        onSelectionChange={({ detail }) => setSelectedId(detail.selectedItems[0]?.id ?? null)}
        ariaLabels={{ selectionGroupLabel: "Datasets", itemSelectionLabel: (_, d) => `Select ${d.name}`, allItemsSelectionLabel: () => "Select all" }}
        trackBy="id"
        empty={<EmptyState title="No datasets" subtitle={mayWrite ? "Create a version from uploaded images and labels." : "None yet."} />}
        columnDefinitions={[
          { id: "name", header: "Name", cell: (d) => d.name },
          { id: "versions", header: "Versions", cell: (d) => d.versions },
          { id: "latest", header: "Latest", cell: (d) => (d.latest_version ? `v${d.latest_version}` : "—") },
          { id: "description", header: "Description", cell: (d) => d.description || "—" },
          { id: "created", header: "Created", cell: (d) => when(d.created_at) },
        ]}
      />
      {datasets.error && <StatusIndicator type="error">{datasets.error}</StatusIndicator>}
      {selected && <Versions usecaseId={usecaseId} dataset={selected} />}
      {dialog === "dataset" && (
        <CreateDatasetDialog usecaseId={usecaseId} onClose={() => setDialog(null)} onCreated={(d) => {
          setDialog(null);
          notify.success(`Dataset ${d.name} created.`);
          setSelectedId(d.id);
          void datasets.reload();
        }} />
      )}
      {dialog === "version" && (
        <CreateVersionDialog usecaseId={usecaseId} datasets={items} initialDataset={selected?.id} onClose={() => setDialog(null)} onCreated={(v, datasetId) => {
          setDialog(null);
          notify.success(`Version v${v.number} created with ${v.image_count} images.`);
          navigate(`/datasets/${datasetId}/versions/${v.id}`);
        }} />
      )}
    </SpaceBetween>
  );
}
