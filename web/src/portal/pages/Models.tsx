import { useState } from "react";
import Badge from "@cloudscape-design/components/badge";
import Button from "@cloudscape-design/components/button";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { EmptyState } from "../../components/PageTable";
import { navigate, useLoader } from "../../hooks";
import { ml, type RegistryVersion } from "../api-ml";
import { shortNumber } from "../charts/curves";
import { usePortal } from "../context";
import { when } from "../format";
import { NoUseCase } from "./NoUseCase";

const STAGE_COLOUR: Record<string, "green" | "blue" | "grey" | "red"> = {
  production: "green",
  staging: "blue",
  candidate: "grey",
  archived: "grey",
};

export function StageBadge({ stage }: { stage: string }) {
  return <Badge color={STAGE_COLOUR[stage] ?? "grey"}>{stage}</Badge>;
}

/** A headline metric of a version's (nested) metrics: image-level first. */
export function headline(v: Pick<RegistryVersion, "metrics">, key: string): string {
  const image = v.metrics.image as Record<string, unknown> | undefined;
  return shortNumber(image?.[key] ?? v.metrics[key]);
}

/** The registry: every model of the use case with its newest and production versions. */
export function ModelsPage() {
  const { usecaseId } = usePortal();
  const models = useLoader(() => (usecaseId ? ml.listModels(usecaseId) : Promise.resolve([])), [usecaseId], 15_000);
  if (!usecaseId) return <NoUseCase />;
  return (
    <Table
      header={<Header variant="h1" counter={models.data ? `(${models.data.length})` : undefined} description="Trained, uploaded and imported models, with their versions.">Models</Header>}
      items={models.data ?? []}
      loading={models.loading && !models.data}
      loadingText="Loading models"
      trackBy="id"
      empty={<EmptyState title="No models yet" subtitle="Train one on the Training page." />}
      columnDefinitions={[
        { id: "name", header: "Name", cell: (m) => <Link href={`#/models/${m.id}`}>{m.name}</Link> },
        { id: "type", header: "Type", cell: (m) => m.model_type },
        { id: "latest", header: "Newest version", cell: (m) => (m.latest_version ? <Link href={`#/models/versions/${m.latest_version.id}`}>v{m.latest_version.version}</Link> : "—") },
        { id: "stage", header: "Its stage", cell: (m) => (m.latest_version ? <StageBadge stage={m.latest_version.stage} /> : "—") },
        { id: "production", header: "In production", cell: (m) => (m.production_version ? `v${m.production_version.version}` : "—") },
        { id: "updated", header: "Updated", cell: (m) => when(m.updated_at) },
      ]}
    />
  );
}

/** One model: its versions with headline metrics; pick two to compare. */
export function ModelDetail({ modelId }: { modelId: string }) {
  const { usecaseId } = usePortal();
  const id = usecaseId ?? "";
  const model = useLoader(() => ml.getModel(id, modelId), [id, modelId]);
  const versions = useLoader(() => ml.listVersions(id, modelId), [id, modelId], 15_000);
  const [selected, setSelected] = useState<RegistryVersion[]>([]);
  if (model.error && !model.data) return <StatusIndicator type="error">{model.error}</StatusIndicator>;
  const compare = () => navigate(`/models/compare?a=${selected[0].id}&b=${selected[1].id}`);
  return (
    <Table
      header={
        <Header
          variant="h1"
          description={model.data ? `${model.data.model_type} model` : undefined}
          actions={
            <SpaceBetween direction="horizontal" size="xs">
              <Button disabled={selected.length !== 2} onClick={compare} data-testid="versions-compare">Compare selected</Button>
            </SpaceBetween>
          }
        >
          {model.data?.name ?? "Model"}
        </Header>
      }
      selectionType="multi"
      selectedItems={selected}
      onSelectionChange={({ detail }) => setSelected(detail.selectedItems.slice(-2))}
      ariaLabels={{ selectionGroupLabel: "Versions to compare", itemSelectionLabel: (_, v) => `version ${v.version}`, allItemsSelectionLabel: () => "all versions" }}
      items={versions.data ?? []}
      loading={versions.loading && !versions.data}
      loadingText="Loading versions"
      trackBy="id"
      empty={<EmptyState title="No versions" />}
      columnDefinitions={[
        { id: "version", header: "Version", cell: (v) => <Link href={`#/models/versions/${v.id}`}>v{v.version}</Link> },
        { id: "stage", header: "Stage", cell: (v) => <StageBadge stage={v.stage} /> },
        { id: "source", header: "Source", cell: (v) => v.source },
        { id: "backbone", header: "Backbone", cell: (v) => v.backbone || "—" },
        { id: "accuracy", header: "Accuracy", cell: (v) => headline(v, "accuracy") },
        { id: "f1", header: "F1", cell: (v) => headline(v, "f1") },
        { id: "auroc", header: "AUROC", cell: (v) => headline(v, "auroc") },
        { id: "created", header: "Created", cell: (v) => when(v.created_at) },
      ]}
    />
  );
}
