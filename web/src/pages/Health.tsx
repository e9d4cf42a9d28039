import { useEffect, useState } from "react";
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
import { api, type Health } from "../api";
import { formatBytes, formatDuration, formatMs, formatNumber } from "../format";
import { useLoader } from "../hooks";

const POLL_MS = 2000;
const HISTORY_POINTS = 90;

type Sample = { x: Date; throughput: number; cpu: number };

function Usage({ label, percent, detail }: { label: string; percent: number | undefined; detail?: string }) {
  if (percent === undefined || percent === null) return <KeyValuePairs items={[{ label, value: "–" }]} />;
  const status = percent >= 90 ? "error" : "in-progress";
  return <ProgressBar label={label} value={Math.round(percent)} description={detail} status={status} additionalInfo={percent >= 90 ? "Running low" : undefined} />;
}

function usedOf(used?: number, total?: number): string | undefined {
  return used !== undefined && total !== undefined ? `${formatBytes(used)} of ${formatBytes(total)}` : undefined;
}

function SystemPanel({ health }: { health: Health }) {
  const ok = (health.status ?? "ok") === "ok";
  return (
    <Container header={<Header variant="h2">System</Header>}>
      <SpaceBetween size="l">
        <KeyValuePairs
          columns={4}
          items={[
            { label: "Status", value: <StatusIndicator type={ok ? "success" : "warning"}>{health.status ?? "ok"}</StatusIndicator> },
            { label: "Uptime", value: formatDuration(health.uptime_s) },
            { label: "Throughput", value: <Box variant="awsui-value-large">{formatNumber(health.throughput_per_s, 1)}<Box variant="span" fontSize="body-m"> captures/s</Box></Box> },
            { label: "Station memory (RSS)", value: formatBytes(health.memory?.rss_bytes) },
          ]}
        />
        <ColumnLayout columns={3}>
          <Usage label="CPU" percent={health.cpu_percent} />
          <Usage label="Memory" percent={health.memory?.percent} detail={usedOf(health.memory?.used_bytes, health.memory?.total_bytes)} />
          <Usage label="Disk (data directory)" percent={health.disk?.percent} detail={usedOf(health.disk?.used_bytes, health.disk?.total_bytes)} />
        </ColumnLayout>
      </SpaceBetween>
    </Container>
  );
}

function LatencyTable({ health }: { health: Health }) {
  const rows = Object.entries(health.latency_ms ?? {}).map(([stage, s]) => ({ stage, ...s }));
  return (
    <Table
      header={<Header variant="h2" description="Per capture, over the recent window.">Latency by stage</Header>}
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
      items={health.models ?? []}
      trackBy={(m) => `${m.name}@${m.version}`}
      variant="container"
      columnDefinitions={[
        { id: "name", header: "Model", cell: (m) => `${m.name} v${m.version}`, isRowHeader: true },
        {
          id: "status",
          header: "Status",
          cell: (m) => {
            const status = m.status ?? (m.loaded ? "loaded" : "installed");
            return <StatusIndicator type={status === "loaded" || status === "ready" ? "success" : status === "error" ? "error" : "stopped"}>{status}</StatusIndicator>;
          },
        },
      ]}
      empty={<Box color="text-body-secondary">No models installed.</Box>}
    />
  );
}

function Counts({ counts }: { counts: Record<string, number> }) {
  const entries = Object.entries(counts);
  if (!entries.length) return null;
  return (
    <Container header={<Header variant="h2">Counts</Header>}>
      <KeyValuePairs
        columns={Math.min(4, entries.length) as 1 | 2 | 3 | 4}
        items={entries.map(([k, v]) => ({ label: k.replace(/_/g, " "), value: <Box variant="awsui-value-large">{v.toLocaleString()}</Box> }))}
      />
    </Container>
  );
}

/** Station health: resources, model status, latency percentiles, throughput and counts. */
export function HealthPage() {
  const health = useLoader(() => api.health(), [], POLL_MS);
  const summary = useLoader(() => api.summary(), [], POLL_MS * 2);
  const [samples, setSamples] = useState<Sample[]>([]);

  useEffect(() => {
    const h = health.data;
    if (!h) return;
    setSamples((all) => [...all, { x: new Date(), throughput: h.throughput_per_s ?? 0, cpu: h.cpu_percent ?? 0 }].slice(-HISTORY_POINTS));
  }, [health.data]);

  const counts: Record<string, number> = { ...(health.data?.counts ?? {}) };
  if (summary.data) {
    for (const [k, v] of Object.entries(summary.data)) if (typeof v === "number" && !(k in counts)) counts[k] = v;
  }
  return (
    <ContentLayout header={<Header variant="h1" description={`Refreshed every ${POLL_MS / 1000} s.`}>Application health</Header>}>
      <SpaceBetween size="l">
        {health.error && <Alert type="error">Could not read health: {health.error}</Alert>}
        {health.data && <SystemPanel health={health.data} />}
        <Counts counts={counts} />
        <Container header={<Header variant="h2">Throughput and CPU (this session)</Header>}>
          <LineChart
            series={[
              { title: "Captures/s", type: "line", data: samples.map((s) => ({ x: s.x, y: s.throughput })) },
              { title: "CPU %", type: "line", data: samples.map((s) => ({ x: s.x, y: s.cpu })) },
            ]}
            xScaleType="time"
            height={200}
            hideFilter
            xTitle="Time"
            statusType={samples.length ? "finished" : "loading"}
            i18nStrings={{ xTickFormatter: (d) => d.toLocaleTimeString(undefined, { hour12: false }) }}
            empty={<Box color="text-body-secondary">Collecting…</Box>}
          />
        </Container>
        {health.data && (
          <ColumnLayout columns={2}>
            <LatencyTable health={health.data} />
            <ModelsTable health={health.data} />
          </ColumnLayout>
        )}
      </SpaceBetween>
    </ContentLayout>
  );
}
