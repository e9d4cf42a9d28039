import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import LineChart from "@cloudscape-design/components/line-chart";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import { usePageActions } from "../../components/actions";
import { navigate, useLoader } from "../../hooks";
import { api, type HeartbeatPoint } from "../api";
import { usePortal } from "../context";
import { metric, when } from "../format";
import { P, can } from "../permissions";
import { DeviceStatus } from "./Devices";

/** One line per heartbeat metric, over time. */
export function series(points: HeartbeatPoint[], key: string, title: string) {
  const data = points
    .map((p) => ({ x: new Date(p.at), y: metric(p.metrics, key) }))
    .filter((d): d is { x: Date; y: number } => d.y !== null)
    .sort((a, b) => a.x.getTime() - b.x.getTime());
  return { title, type: "line" as const, data };
}

function HeartbeatChart({ points }: { points: HeartbeatPoint[] }) {
  const percent = [series(points, "cpu_pct", "CPU %"), series(points, "memory_pct", "Memory %")];
  const throughput = [series(points, "throughput_per_min", "Images per minute")];
  const fmt = (d: Date) => d.toLocaleTimeString();
  return (
    <ColumnLayout columns={2}>
      <LineChart
        series={percent}
        xScaleType="time"
        yDomain={[0, 100]}
        xTitle="Time"
        yTitle="Percent"
        xTickFormatter={fmt}
        height={220}
        hideFilter
        ariaLabel="CPU and memory use over time"
        empty={<Box textAlign="center">No heartbeats yet</Box>}
      />
      <LineChart
        series={throughput}
        xScaleType="time"
        xTitle="Time"
        yTitle="Images per minute"
        xTickFormatter={fmt}
        height={220}
        hideFilter
        ariaLabel="Throughput over time"
        empty={<Box textAlign="center">No heartbeats yet</Box>}
      />
    </ColumnLayout>
  );
}

/** A device: status, facts, heartbeat charts (refreshed every 10 s) and its logs on demand. */
export function DeviceDetail({ deviceId }: { deviceId: string }) {
  const { me, usecaseId } = usePortal();
  const mayManage = can(me, usecaseId, P.DEVICE_MANAGE);
  const device = useLoader(() => api.getDevice(usecaseId ?? "", deviceId), [usecaseId, deviceId], 10_000);
  const beats = useLoader(() => api.heartbeats(usecaseId ?? "", deviceId), [usecaseId, deviceId], 10_000);
  const logs = useLoader(
    () => (mayManage ? api.deviceLogs(usecaseId ?? "", deviceId) : Promise.resolve(null)),
    [usecaseId, deviceId, mayManage],
    5_000,
  );
  const { busy, act } = usePageActions(async () => { await Promise.all([device.reload(), logs.reload()]); });
  const d = device.data;
  if (device.error && !d) return <StatusIndicator type="error">{device.error}</StatusIndicator>;
  if (!d || !usecaseId) return <StatusIndicator type="loading">Loading the device</StatusIndicator>;
  const facts = Object.entries(d.facts).slice(0, 12);
  return (
    <SpaceBetween size="l">
      <Header
        variant="h1"
        actions={
          <SpaceBetween direction="horizontal" size="xs">
            <Button onClick={() => navigate("/devices")}>All devices</Button>
            {mayManage && !d.revoked_at && (
              <Button loading={busy === "Revoke"} onClick={() => void act("Revoke", () => api.revokeDevice(usecaseId, d.id), `${d.name} revoked.`)}>Revoke</Button>
            )}
          </SpaceBetween>
        }
      >
        {d.name}
      </Header>
      <Container header={<Header variant="h2">Status</Header>}>
        <ColumnLayout columns={4} variant="text-grid">
          <div><Box variant="awsui-key-label">Status</Box><DeviceStatus status={d.status} /></div>
          <div><Box variant="awsui-key-label">Group</Box>{d.group || "—"}</div>
          <div><Box variant="awsui-key-label">Last seen</Box>{when(d.last_seen_at)}</div>
          <div><Box variant="awsui-key-label">Enrolled</Box>{when(d.enrolled_at)}</div>
          {facts.map(([k, v]) => (
            <div key={k}><Box variant="awsui-key-label">{k}</Box>{typeof v === "object" ? JSON.stringify(v) : String(v)}</div>
          ))}
        </ColumnLayout>
      </Container>
      <Container header={<Header variant="h2" description="From the station's heartbeats">Heartbeats</Header>}>
        <HeartbeatChart points={beats.data ?? []} />
      </Container>
      {mayManage && (
        <Container
          header={
            <Header
              variant="h2"
              description={logs.data?.received_at ? `Received ${when(logs.data.received_at)}` : "The station sends its log tail with its next heartbeat."}
              actions={<Button loading={busy === "Request logs"} onClick={() => void act("Request logs", () => api.requestLogs(usecaseId, d.id), "Logs requested.")}>Request logs</Button>}
            >
              Logs
            </Header>
          }
        >
          {logs.data?.lines.length ? (
            <pre className="logs" tabIndex={0} aria-label="Device log lines">{logs.data.lines.map(String).join("\n")}</pre>
          ) : (
            <Box color="text-status-inactive">{logs.data?.requested ? "Waiting for the station…" : "No logs requested yet."}</Box>
          )}
        </Container>
      )}
    </SpaceBetween>
  );
}
