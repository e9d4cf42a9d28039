import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import ContentLayout from "@cloudscape-design/components/content-layout";
import Header from "@cloudscape-design/components/header";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import LineChart from "@cloudscape-design/components/line-chart";
import ProgressBar from "@cloudscape-design/components/progress-bar";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { api, type Health, type HealthPoint, type ResultSummary } from "../api";
import { WorkflowStateIndicator } from "../components/Verdict";
import { formatBytes, formatDuration, formatMs, formatNumber } from "../format";
import { useLoader } from "../hooks";

const POLL_MS = 2000;
const HISTORY_POLL_MS = 5000;

function Usage({ label, percent, detail, warnAt = 90 }: { label: string; percent: number; detail?: string; warnAt?: number }) {
  const high = percent >= warnAt;
  return (
    <ProgressBar
      label={label}
      value={Math.min(100, Math.round(percent))}
      description={detail}
      additionalInfo={high ? "Running high" : undefined}
    />
  );
}

function usedOf(used: number, total: number): string {
  return `${formatBytes(used)} of ${formatBytes(total)}`;
}

function SystemPanel({ health }: { health: Health }) {
  const ok = health.status === "ok";
  const quota = health.storage.quota_bytes;
  return (
    <Container header={<Header variant="h2" description={`DDA ${health.version}`}>System</Header>}>
      <SpaceBetween size="l">
        <KeyValuePairs
          columns={4}
          items={[
            { label: "Status", value: <StatusIndicator type={ok ? "success" : "warning"}>{ok ? "OK" : health.status}</StatusIndicator> },
            { label: "Uptime", value: formatDuration(health.uptime_s) },
            { label: "Throughput (last minute)", value: <Box variant="awsui-value-large">{formatNumber(health.throughput_per_s, 1)}<Box variant="span" fontSize="body-m"> captures/s</Box></Box> },
            { label: "Station memory (RSS)", value: formatBytes(health.memory.rss_bytes) },
          ]}
        />
        <ColumnLayout columns={4}>
          <Usage label="CPU" percent={health.cpu_percent} />
          <Usage label="Memory" percent={health.memory.percent} detail={usedOf(health.memory.used_bytes, health.memory.total_bytes)} />
          <Usage label="Disk" percent={health.disk.percent} detail={`${formatBytes(health.disk.free_bytes)} free`} />
          <Usage
            label="Result storage"
            percent={quota > 0 ? (100 * health.storage.used_bytes) / quota : 0}
            detail={quota > 0 ? `${usedOf(health.storage.used_bytes, quota)} quota` : formatBytes(health.storage.used_bytes)}
            warnAt={95}
          />
        </ColumnLayout>
      </SpaceBetween>
    </Container>
  );
}

function LatencyTable({ health }: { health: Health }) {
  const rows = Object.entries(health.latency_ms).map(([stage, s]) => ({ stage, ...s }));
  return (
    <Table
      header={<Header variant="h2" description="Milliseconds per capture over the last 2000 captures.">Latency by stage</Header>}
      items={rows}
      trackBy="stage"
      variant="container"
      columnDefinitions={[
        { id: "stage", header: "Stage", cell: (r) => r.stage, isRowHeader: true },
        { id: "p50", header: "p50", cell: (r) => formatMs(r.p50) },
        { id: "p99", header: "p99", cell: (r) => formatMs(r.p99) },
        { id: "count", header: "Samples", cell: (r) => (r.count ?? "–").toString() },
      ]}
      empty={<Box color="text-body-secondary">No captures yet.</Box>}
    />
  );
}

function ModelsTable({ health }: { health: Health }) {
  return (
    <Table
      header={<Header variant="h2">Models</Header>}
      items={health.models}
      trackBy={(m) => `${m.name}@${m.version}`}
      variant="container"
      columnDefinitions={[
        { id: "name", header: "Model", cell: (m) => `${m.name} v${m.version}`, isRowHeader: true },
        {
          id: "status",
          header: "Status",
          cell: (m) => {
            return <StatusIndicator type={m.loaded ? "success" : "stopped"}>{m.status}</StatusIndicator>;
          },
        },
      ]}
      empty={<Box color="text-body-secondary">No models installed.</Box>}
    />
  );
}

function Counts({ health }: { health: Health }) {
  const { total, normal, anomaly, flagged } = health.counts;
  return (
    <Container header={<Header variant="h2">Results stored</Header>}>
      <KeyValuePairs
        columns={4}
        items={[
          { label: "Total", value: <Box variant="awsui-value-large">{total.toLocaleString()}</Box> },
          { label: "Normal", value: <Box variant="awsui-value-large" color="text-status-success">{normal.toLocaleString()}</Box> },
          { label: "Anomaly", value: <Box variant="awsui-value-large" color="text-status-error">{anomaly.toLocaleString()}</Box> },
          { label: "Flagged for review", value: <Box variant="awsui-value-large">{flagged.toLocaleString()}</Box> },
        ]}
      />
    </Container>
  );
}

function WorkflowsTable({ health, summary }: { health: Health; summary: ResultSummary | undefined }) {
  const perWorkflow = Object.values(summary?.per_workflow ?? {});
  const rows = health.workflows.map((w) => ({ ...w, counts: perWorkflow.find((c) => c.workflow_id === w.id) }));
  return (
    <Table
      header={<Header variant="h2">Workflows</Header>}
      items={rows}
      trackBy="id"
      variant="container"
      columnDefinitions={[
        { id: "name", header: "Workflow", cell: (w) => w.name, isRowHeader: true },
        { id: "state", header: "State", cell: (w) => <WorkflowStateIndicator state={w.state} error={w.error} /> },
        { id: "total", header: "Results", cell: (w) => (w.counts?.total ?? 0).toLocaleString() },
        { id: "anomaly", header: "Anomalies", cell: (w) => (w.counts?.anomaly ?? 0).toLocaleString() },
      ]}
      empty={<Box color="text-body-secondary">No workflows.</Box>}
    />
  );
}

/** One measure over time on its own axis (measures with different units never share one). */
function HistoryChart({ title, unit, points, pick, max }: { title: string; unit: string; points: HealthPoint[]; pick: (p: HealthPoint) => number; max?: number }) {
  const data = points.map((p) => ({ x: new Date(p.t * 1000), y: pick(p) }));
  return (
    <Container header={<Header variant="h3">{title}</Header>}>
      <LineChart
        series={[{ title: `${title} (${unit})`, type: "line", data }]}
        xScaleType="time"
        yDomain={max !== undefined ? [0, max] : undefined}
        height={150}
        hideFilter
        hideLegend
        xTitle="Time"
        yTitle={unit}
        ariaLabel={`${title} over the last hour`}
        statusType={points.length ? "finished" : "loading"}
        loadingText="Collecting…"
        i18nStrings={{ xTickFormatter: (d) => d.toLocaleTimeString(undefined, { hour12: false }) }}
        empty={<Box color="text-body-secondary">Collecting…</Box>}
      />
    </Container>
  );
}

/** Station health: resources, model status, latency percentiles, throughput and counts. */
export function HealthPage() {
  const health = useLoader(() => api.health(), [], POLL_MS);
  const summary = useLoader(() => api.summary(), [], POLL_MS * 2);
  // The station samples every few seconds and keeps an hour: the charts start with that history.
  const history = useLoader(() => api.healthHistory(), [], HISTORY_POLL_MS);
  const points = history.data?.points ?? [];
  return (
    <ContentLayout header={<Header variant="h1" description={`Refreshed every ${POLL_MS / 1000} s; charts show the last hour stored by the station.`}>Application health</Header>}>
      <SpaceBetween size="l">
        {health.error && <Alert type="error">Could not read health: {health.error}</Alert>}
        {health.data && <SystemPanel health={health.data} />}
        {health.data && <Counts health={health.data} />}
        <ColumnLayout columns={3}>
          <HistoryChart title="Throughput" unit="captures/s" points={points} pick={(p) => p.throughput_per_s} />
          <HistoryChart title="CPU" unit="%" points={points} pick={(p) => p.cpu_percent} max={100} />
          <HistoryChart title="Station memory" unit="MB" points={points} pick={(p) => p.rss_mb} />
        </ColumnLayout>
        {health.data && (
          <ColumnLayout columns={2}>
            <LatencyTable health={health.data} />
            <SpaceBetween size="l">
              <WorkflowsTable health={health.data} summary={summary.data} />
              <ModelsTable health={health.data} />
            </SpaceBetween>
          </ColumnLayout>
        )}
      </SpaceBetween>
    </ContentLayout>
  );
}
