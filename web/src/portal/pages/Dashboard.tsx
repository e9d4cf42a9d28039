import Box from "@cloudscape-design/components/box";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import ContentLayout from "@cloudscape-design/components/content-layout";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { EmptyState } from "../../components/PageTable";
import { useLoader } from "../../hooks";
import { api, type Deployment, type Device } from "../api";
import { usePortal } from "../context";
import { when } from "../format";
import { P, can, roleIn } from "../permissions";
import { NoUseCase } from "./NoUseCase";
import { DeploymentStatus } from "./Deployments";

type Overview = { devices: Device[] | null; deployments: Deployment[] | null };

/** Per use case: devices online and recent deployments (refreshed every 15 s). */
export function DashboardPage() {
  const { me, usecases, usecaseId } = usePortal();
  const usecase = usecases.find((u) => u.id === usecaseId);
  const mayDevices = can(me, usecaseId, P.DEVICE_VIEW);
  const mayDeployments = can(me, usecaseId, P.DEPLOYMENT_VIEW);
  const { data, error } = useLoader<Overview>(
    async () => {
      if (!usecaseId) return { devices: null, deployments: null };
      const [devices, deployments] = await Promise.all([
        mayDevices ? api.listDevices(usecaseId) : Promise.resolve(null),
        mayDeployments ? api.listDeployments(usecaseId) : Promise.resolve(null),
      ]);
      return { devices, deployments };
    },
    [usecaseId, mayDevices, mayDeployments],
    15_000,
  );
  if (!usecase) return <NoUseCase />;
  const devices = data?.devices ?? [];
  const online = devices.filter((d) => d.status === "online").length;
  const running = (data?.deployments ?? []).filter((d) => !d.finished_at).length;
  return (
    <ContentLayout header={<Header variant="h1" description={usecase.description || undefined}>Dashboard: {usecase.name}</Header>}>
      <SpaceBetween size="l">
        {error && <StatusIndicator type="error">{error}</StatusIndicator>}
        <Container header={<Header variant="h2">Overview</Header>}>
          <ColumnLayout columns={4} variant="text-grid">
            <div>
              <Box variant="awsui-key-label">Your role</Box>
              <Box>{roleIn(me, usecaseId) ?? "—"}</Box>
            </div>
            <div>
              <Box variant="awsui-key-label">Onboarding</Box>
              <StatusIndicator type={usecase.onboarding_status === "ready" ? "success" : usecase.onboarding_status === "failed" ? "error" : "pending"}>
                {usecase.onboarding_status}
              </StatusIndicator>
            </div>
            <div>
              <Box variant="awsui-key-label">Devices online</Box>
              <Box fontSize="display-l" fontWeight="bold" data-testid="devices-online">
                {mayDevices ? `${online} / ${devices.length}` : "—"}
              </Box>
            </div>
            <div>
              <Box variant="awsui-key-label">Deployments in progress</Box>
              <Box fontSize="display-l" fontWeight="bold">{mayDeployments ? running : "—"}</Box>
            </div>
          </ColumnLayout>
        </Container>
        {mayDeployments && (
          <Table
            header={<Header variant="h2">Recent deployments</Header>}
            items={(data?.deployments ?? []).slice(0, 5)}
            loading={!data}
            loadingText="Loading deployments"
            empty={<EmptyState title="No deployments yet" />}
            columnDefinitions={[
              { id: "name", header: "Name", cell: (d) => <Link href={`#/deployments/${d.id}`}>{d.name}</Link> },
              { id: "target", header: "Target", cell: (d) => `${d.target_kind}: ${d.target_value}` },
              { id: "status", header: "Status", cell: (d) => <DeploymentStatus status={d.status} /> },
              { id: "created", header: "Created", cell: (d) => when(d.created_at) },
            ]}
          />
        )}
      </SpaceBetween>
    </ContentLayout>
  );
}
