import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import ProgressBar from "@cloudscape-design/components/progress-bar";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { EmptyState } from "../../components/PageTable";
import { usePageActions } from "../../components/actions";
import { navigate, useLoader } from "../../hooks";
import { api } from "../api";
import { usePortal } from "../context";
import { when } from "../format";
import { P, can } from "../permissions";
import { DeploymentStatus } from "./Deployments";

const REFRESH_MS = 3_000;

/** One deployment: its waves and the per-device status, refreshed every few seconds. */
export function DeploymentDetail({ deploymentId }: { deploymentId: string }) {
  const { me, usecaseId } = usePortal();
  const dep = useLoader(() => api.getDeployment(usecaseId ?? "", deploymentId), [usecaseId, deploymentId], REFRESH_MS);
  const { busy, act } = usePageActions(dep.reload);
  const d = dep.data;
  if (dep.error && !d) return <StatusIndicator type="error">{dep.error}</StatusIndicator>;
  if (!d || !usecaseId) return <StatusIndicator type="loading">Loading the deployment</StatusIndicator>;
  const mayWrite = can(me, usecaseId, P.DEPLOYMENT_WRITE);
  const rollback = async () => {
    const created = await api.rollbackDeployment(usecaseId, d.id);
    navigate(`/deployments/${created.id}`);
  };
  return (
    <SpaceBetween size="l">
      <Header
        variant="h1"
        description={`${d.target_kind}: ${d.target_value}`}
        actions={
          <SpaceBetween direction="horizontal" size="xs">
            <Button onClick={() => navigate("/deployments")}>All deployments</Button>
            {mayWrite && !d.finished_at && (
              <Button loading={busy === "Cancel"} onClick={() => void act("Cancel", () => api.cancelDeployment(usecaseId, d.id), "Deployment cancelled.")}>Cancel deployment</Button>
            )}
            {mayWrite && <Button loading={busy === "Roll back"} onClick={() => void act("Roll back", rollback, "Rollback started.")}>Roll back</Button>}
          </SpaceBetween>
        }
      >
        {d.name}
      </Header>
      <Container header={<Header variant="h2">Rollout</Header>}>
        <ColumnLayout columns={4} variant="text-grid">
          <div><Box variant="awsui-key-label">Status</Box><DeploymentStatus status={d.status} />{d.status_reason && <Box variant="small">{d.status_reason}</Box>}</div>
          <div><Box variant="awsui-key-label">Wave released</Box>{d.released_wave + 1} of {d.waves.length} ({d.waves.join(", ")})</div>
          <div><Box variant="awsui-key-label">Soak / failure threshold</Box>{d.soak_s} s / {d.failure_threshold}</div>
          <div><Box variant="awsui-key-label">Created / finished</Box>{when(d.created_at)} / {when(d.finished_at)}</div>
          {d.rollback_of && <div><Box variant="awsui-key-label">Rollback of</Box><Link href={`#/deployments/${d.rollback_of}`}>previous deployment</Link></div>}
        </ColumnLayout>
      </Container>
      <Table
        header={<Header variant="h2" description={`Refreshed every ${REFRESH_MS / 1000} s`}>Devices</Header>}
        items={d.devices}
        trackBy="device_id"
        empty={<EmptyState title="No devices in this deployment" />}
        columnDefinitions={[
          { id: "device", header: "Device", cell: (x) => <Link href={`#/devices/${x.device_id}`}>{x.device_name}</Link> },
          { id: "wave", header: "Wave", cell: (x) => x.wave + 1 },
          { id: "phase", header: "Phase", cell: (x) => <DeploymentStatus status={x.phase} /> },
          { id: "progress", header: "Progress", cell: (x) => <ProgressBar value={x.progress_pct} ariaLabel={`Progress of ${x.device_name}`} /> },
          { id: "reason", header: "Reason", cell: (x) => x.reason ?? (x.rolled_back_by_portal ? "rolled back" : "—") },
          { id: "updated", header: "Updated", cell: (x) => when(x.updated_at) },
        ]}
      />
    </SpaceBetween>
  );
}
