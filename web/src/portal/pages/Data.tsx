import { useState } from "react";
import Button from "@cloudscape-design/components/button";
import Header from "@cloudscape-design/components/header";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { EmptyState } from "../../components/PageTable";
import { navigate, useLoader } from "../../hooks";
import { dataApi } from "../api-data";
import { usePortal } from "../context";
import { P, can } from "../permissions";
import { DataBrowser } from "./DataBrowse";
import { UploadPanel } from "./DataUpload";
import { NoUseCase } from "./NoUseCase";
import "./DataPages.css";

function Locations({ usecaseId }: { usecaseId: string }) {
  const locations = useLoader(() => dataApi.locations(usecaseId), [usecaseId]);
  return (
    <Table
      header={<Header variant="h2" description="Shared storage a PortalAdmin attached to this use case; read-only here.">Data locations</Header>}
      items={locations.data ?? []}
      loading={locations.loading && !locations.data}
      loadingText="Loading data locations"
      trackBy="id"
      variant="container"
      empty={<EmptyState title="No data location attached" subtitle="A PortalAdmin attaches shared buckets to a use case." />}
      columnDefinitions={[
        { id: "name", header: "Name", cell: (l) => l.name },
        { id: "storage", header: "Storage", cell: (l) => l.storage },
        { id: "status", header: "Status", cell: (l) => <StatusIndicator type={l.status === "ok" || l.status === "ready" ? "success" : l.status_error ? "error" : "info"}>{l.status_error ? `${l.status}: ${l.status_error}` : l.status}</StatusIndicator> },
        { id: "access", header: "Access", cell: (l) => (l.read_only ? "read-only" : "read-write") },
        { id: "description", header: "Description", cell: (l) => l.description || "—" },
      ]}
    />
  );
}

/** Data management: upload with per-file progress and errors, browse with thumbnails, data locations. */
export function DataPage() {
  const { me, usecaseId } = usePortal();
  const [folder, setFolder] = useState("");
  const [landed, setLanded] = useState(0);
  if (!usecaseId) return <NoUseCase />;
  const mayWrite = can(me, usecaseId, P.DATA_WRITE);
  return (
    <SpaceBetween size="l">
      <Header
        variant="h1"
        description="The images of this use case, in folders. Labels come in as dataset versions."
        actions={can(me, usecaseId, P.DATASET_WRITE) && <Button onClick={() => navigate("/datasets?create=labels")} data-testid="import-manifest">Import a Ground Truth manifest</Button>}
      >
        Data management
      </Header>
      {mayWrite && <UploadPanel usecaseId={usecaseId} folder={folder} onLanded={() => setLanded((n) => n + 1)} />}
      <DataBrowser usecaseId={usecaseId} folder={folder} onFolder={setFolder} mayDelete={mayWrite} reloadKey={landed} />
      <Locations usecaseId={usecaseId} />
    </SpaceBetween>
  );
}
