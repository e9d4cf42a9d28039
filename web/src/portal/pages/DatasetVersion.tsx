import { useState } from "react";
import BarChart from "@cloudscape-design/components/bar-chart";
import Box from "@cloudscape-design/components/box";
import BreadcrumbGroup from "@cloudscape-design/components/breadcrumb-group";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import ExpandableSection from "@cloudscape-design/components/expandable-section";
import Header from "@cloudscape-design/components/header";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import PieChart from "@cloudscape-design/components/pie-chart";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import { useNotify } from "../../components/notify";
import { navigate, useLoader } from "../../hooks";
import { dataApi, saveBlob, type DatasetVersion, type ExportFormat, type SplitName } from "../api-data";
import { usePortal } from "../context";
import { when } from "../format";
import { Problems } from "./DatasetsCreate";
import { NoUseCase } from "./NoUseCase";

const SPLITS: SplitName[] = ["train", "val", "test"];
const EXPORTS: { format: ExportFormat; label: string }[] = [
  { format: "gt", label: "Ground Truth manifest" },
  { format: "coco", label: "COCO" },
  { format: "yolo", label: "YOLO" },
  { format: "dda", label: "DDA manifest" },
];

/** Images per class, one bar series per split (stacked): balance and split at a glance. */
function ClassChart({ version }: { version: DatasetVersion }) {
  const classes = Object.keys(version.stats.classes ?? {});
  const series = SPLITS.map((split) => ({
    title: split,
    type: "bar" as const,
    data: classes.map((c) => ({ x: c, y: version.stats.splits?.[split]?.[c] ?? 0 })),
  }));
  return (
    <BarChart
      series={series}
      stackedBars
      xDomain={classes}
      xScaleType="categorical"
      xTitle="Class"
      yTitle="Images"
      height={220}
      hideFilter
      ariaLabel="Images per class and split"
      empty={<Box textAlign="center">No images</Box>}
    />
  );
}

function SplitChart({ version }: { version: DatasetVersion }) {
  const data = SPLITS.map((s) => ({ title: s, value: version.split.counts?.[s] ?? 0 })).filter((d) => d.value > 0);
  return (
    <PieChart
      data={data}
      variant="donut"
      size="medium"
      innerMetricValue={String(version.image_count)}
      innerMetricDescription="images"
      hideFilter
      ariaLabel="Images per split"
      ariaDescription={data.map((d) => `${d.title}: ${d.value}`).join(", ")}
      empty={<Box textAlign="center">No images</Box>}
    />
  );
}

function Exports({ version, datasetId }: { version: DatasetVersion; datasetId: string }) {
  const { usecaseId } = usePortal();
  const notify = useNotify();
  const [busy, setBusy] = useState<ExportFormat | null>(null);
  const run = async (format: ExportFormat) => {
    if (!usecaseId) return;
    setBusy(format);
    try {
      saveBlob(await dataApi.exportVersion(usecaseId, datasetId, version.id, format), `v${version.number}-${format}.zip`);
      notify.success(`Exported v${version.number} as ${format}.`);
    } catch (e) {
      notify.error(e, `export as ${format}`);
    } finally {
      setBusy(null);
    }
  };
  return (
    <SpaceBetween direction="horizontal" size="xs">
      {EXPORTS.map((e) => (
        <Button key={e.format} iconName="download" loading={busy === e.format} onClick={() => void run(e.format)} data-testid={`export-${e.format}`}>
          {e.label}
        </Button>
      ))}
    </SpaceBetween>
  );
}

/** One dataset version: what it holds (charts), its split, its validation report, and exports. */
export function DatasetVersionPage({ datasetId, versionId }: { datasetId: string; versionId: string }) {
  const { usecaseId } = usePortal();
  const version = useLoader(() => (usecaseId ? dataApi.getVersion(usecaseId, datasetId, versionId) : Promise.reject(new Error("no use case"))), [usecaseId, datasetId, versionId]);
  if (!usecaseId) return <NoUseCase />;
  const v = version.data;
  if (!v) return version.error ? <StatusIndicator type="error">{version.error}</StatusIndicator> : <StatusIndicator type="loading">Loading the version</StatusIndicator>;
  const sizes = v.stats.sizes;
  const fractions = v.split.fractions;
  return (
    <SpaceBetween size="l">
      <BreadcrumbGroup ariaLabel="Location" onFollow={(e) => { e.preventDefault(); navigate(e.detail.href.replace(/^#/, "")); }}
        items={[{ text: "Datasets", href: `#/datasets?dataset=${datasetId}` }, { text: `Version ${v.number}`, href: `#/datasets/${datasetId}/versions/${v.id}` }]} />
      <Header variant="h1" description={`Made from ${v.source}${v.label_format ? ` (${v.label_format})` : ""}, ${when(v.created_at)}`} actions={<Exports version={v} datasetId={datasetId} />}>
        Version {v.number}
      </Header>
      <Container header={<Header variant="h2">Summary</Header>}>
        <KeyValuePairs columns={4} items={[
          { label: "Images", value: <span data-testid="version-images">{v.image_count}</span> },
          { label: "Classes", value: (v.classes.class_names ?? []).join(", ") || "—" },
          { label: "Image sizes", value: sizes ? `${sizes.min_width}–${sizes.max_width} × ${sizes.min_height}–${sizes.max_height} px` : "—" },
          { label: "Split", value: fractions ? `${SPLITS.map((s) => Math.round((fractions[s] ?? 0) * 100)).join(" / ")} %, seed ${v.split.seed ?? 0}` : "—" },
          { label: "Masks", value: v.stats.masks ? `${v.stats.masks.images_with_mask} images` : "—" },
          { label: "Boxes", value: v.stats.boxes ? String(v.stats.boxes.total) : "—" },
          { label: "Mask classes", value: (v.classes.mask_class_names ?? []).join(", ") || "—" },
          { label: "Box classes", value: (v.classes.box_class_names ?? []).join(", ") || "—" },
        ]} />
      </Container>
      <ColumnLayout columns={2}>
        <Container header={<Header variant="h2" description="Stacked by split">Images per class</Header>}>
          <ClassChart version={v} />
        </Container>
        <Container header={<Header variant="h2">Train / validation / test</Header>}>
          <SplitChart version={v} />
        </Container>
      </ColumnLayout>
      <Container header={<Header variant="h2">Validation</Header>}>
        <SpaceBetween size="s">
          <StatusIndicator type={v.report.errors ? "error" : v.report.warnings ? "warning" : "success"}>
            {v.report.summary ?? "ok"}{v.report.warnings ? ` — ${v.report.warnings} warnings` : ""}
          </StatusIndicator>
          {(v.report.problems?.length ?? 0) > 0 && (
            <ExpandableSection headerText="Problems found in the labels">
              <Problems problems={v.report.problems ?? []} />
            </ExpandableSection>
          )}
        </SpaceBetween>
      </Container>
    </SpaceBetween>
  );
}
