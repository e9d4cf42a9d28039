import Box from "@cloudscape-design/components/box";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { AuthImage } from "../../components/AuthImage";
import { useLoader } from "../../hooks";
import { ml, type RegistryVersion } from "../api-ml";
import { shortNumber } from "../charts/curves";
import { usePortal } from "../context";
import { StageBadge } from "./Models";

function Side({ usecaseId, v }: { usecaseId: string; v: RegistryVersion }) {
  return (
    <Container header={<Header variant="h2" description={`${v.source} · ${v.backbone || v.model_type}`}>{v.model_name} v{v.version} <StageBadge stage={v.stage} /></Header>}>
      {v.plots.includes("training_curves") ? (
        <AuthImage load={() => ml.plot(usecaseId, v.id, "training_curves")} cacheKey={`${v.id}/training_curves`} alt={`Training curves of ${v.model_name} v${v.version}`} maxHeight={280} />
      ) : (
        <Box color="text-status-inactive">No training curves stored</Box>
      )}
    </Container>
  );
}

/** Two versions side by side: metrics with the difference, configuration differences, curves. */
export function ModelsComparePage({ a, b }: { a: string; b: string }) {
  const { usecaseId } = usePortal();
  const id = usecaseId ?? "";
  const result = useLoader(() => ml.compare(id, a, b), [id, a, b]);
  if (result.error) return <StatusIndicator type="error">{result.error}</StatusIndicator>;
  const c = result.data;
  if (!c) return <StatusIndicator type="loading">Comparing</StatusIndicator>;
  const diffs = Object.entries(c.config_differences).map(([key, pair]) => ({ key, a: JSON.stringify(pair.a), b: JSON.stringify(pair.b) }));
  const delta = (d: number | null) => (d === null ? "—" : `${d > 0 ? "+" : ""}${shortNumber(d)}`);
  return (
    <SpaceBetween size="l">
      <Header variant="h1">Compare v{c.a.version} and v{c.b.version}</Header>
      <Table
        data-testid="compare-metrics"
        header={<Header variant="h2">Metrics</Header>}
        items={c.metrics}
        trackBy="metric"
        columnDefinitions={[
          { id: "metric", header: "Metric", cell: (m) => m.metric },
          { id: "a", header: `v${c.a.version}`, cell: (m) => shortNumber(m.a) },
          { id: "b", header: `v${c.b.version}`, cell: (m) => shortNumber(m.b) },
          { id: "delta", header: "Difference (b − a)", cell: (m) => delta(m.delta) },
        ]}
      />
      <Table
        header={<Header variant="h2">Configuration differences</Header>}
        items={diffs}
        trackBy="key"
        empty={<Box textAlign="center">Same configuration</Box>}
        columnDefinitions={[
          { id: "key", header: "Setting", cell: (d) => d.key },
          { id: "a", header: `v${c.a.version}`, cell: (d) => d.a },
          { id: "b", header: `v${c.b.version}`, cell: (d) => d.b },
        ]}
      />
      <ColumnLayout columns={2}>
        <Side usecaseId={id} v={c.a} />
        <Side usecaseId={id} v={c.b} />
      </ColumnLayout>
    </SpaceBetween>
  );
}
