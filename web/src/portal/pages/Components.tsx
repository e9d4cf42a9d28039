import { useState } from "react";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import Link from "@cloudscape-design/components/link";
import SegmentedControl from "@cloudscape-design/components/segmented-control";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { EmptyState } from "../../components/PageTable";
import { usePageActions } from "../../components/actions";
import { useLoader } from "../../hooks";
import { ml, type Component } from "../api-ml";
import { shortHash } from "../charts/format-ml";
import { usePortal } from "../context";
import { when } from "../format";
import { P, can } from "../permissions";
import { StationComponentDialog } from "./ComponentsCreate";
import { NoUseCase } from "./NoUseCase";

type Kind = "all" | "model" | "station";

function modelLink(c: Component) {
  const versionId = c.model_ref.version_id;
  if (typeof versionId !== "string") return "—";
  const label = `${String(c.model_ref.model_name ?? "model")} (${String(c.model_ref.target ?? "")} ${String(c.model_ref.precision ?? "").toUpperCase()})`;
  return <Link href={`#/models/versions/${versionId}`}>{label}</Link>;
}

/** Model and station components of the use case, each version a row; the signing keys. */
export function ComponentsPage() {
  const { me, usecaseId } = usePortal();
  const [kind, setKind] = useState<Kind>("all");
  const [creating, setCreating] = useState(false);
  const id = usecaseId ?? "";
  const list = useLoader(() => (usecaseId ? ml.listComponents(id, kind === "all" ? undefined : kind) : Promise.resolve([])), [id, kind], 15_000);
  const keys = useLoader(() => (usecaseId ? ml.signingKeys(id) : Promise.resolve([])), [id]);
  if (!usecaseId) return <NoUseCase />;
  return (
    <SpaceBetween size="l">
      {creating && <StationComponentDialog usecaseId={id} onClose={() => setCreating(false)} onCreated={() => { setCreating(false); void list.reload(); }} />}
      <Table
        data-testid="components"
        header={
          <Header
            variant="h1"
            counter={list.data ? `(${list.data.length})` : undefined}
            description="What a deployment ships: model components (published from packages) and station software."
            actions={
              <SpaceBetween direction="horizontal" size="xs">
                <SegmentedControl
                  selectedId={kind}
                  label="Component kind"
                  options={[{ id: "all", text: "All" }, { id: "model", text: "Models" }, { id: "station", text: "Station" }]}
                  onChange={({ detail }) => setKind(detail.selectedId as Kind)}
                />
                {can(me, usecaseId, P.COMPONENT_WRITE) && (
                  <Button onClick={() => setCreating(true)} data-testid="component-create">Register station software</Button>
                )}
              </SpaceBetween>
            }
          >
            Components
          </Header>
        }
        items={list.data ?? []}
        loading={list.loading && !list.data}
        loadingText="Loading components"
        trackBy="id"
        empty={<EmptyState title="No components yet" subtitle="Publish a package on the Compilation page." />}
        columnDefinitions={[
          { id: "name", header: "Name", cell: (c) => <Link href={`#/components/${c.id}`}>{c.name}</Link> },
          { id: "version", header: "Version", cell: (c) => c.version },
          { id: "kind", header: "Kind", cell: (c) => c.kind },
          { id: "platform", header: "Platform", cell: (c) => c.platform },
          { id: "model", header: "Model", cell: modelLink },
          { id: "signed", header: "Signed with key", cell: (c) => shortHash(c.signing_key_fingerprint, 16) },
          { id: "created", header: "Created", cell: (c) => when(c.created_at) },
        ]}
      />
      <Table
        header={<Header variant="h2" description="Stations verify packages with these public keys; a retired key still verifies what it signed.">Signing keys</Header>}
        items={keys.data ?? []}
        loading={keys.loading && !keys.data}
        loadingText="Loading keys"
        trackBy="fingerprint"
        columnDefinitions={[
          { id: "fp", header: "Fingerprint", cell: (k) => <span title={k.fingerprint}>{shortHash(k.fingerprint, 24)}</span> },
          { id: "state", header: "State", cell: (k) => <StatusIndicator type={k.active ? "success" : "stopped"}>{k.active ? "active" : "retired"}</StatusIndicator> },
          { id: "created", header: "Created", cell: (k) => when(k.created_at) },
          { id: "retired", header: "Retired", cell: (k) => when(k.retired_at) },
        ]}
      />
    </SpaceBetween>
  );
}

function Json({ value, label }: { value: unknown; label: string }) {
  return (
    <pre tabIndex={0} aria-label={label} style={{ margin: 0, maxHeight: 240, overflow: "auto", fontSize: 12 }}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

/** One component version: what it is, what it needs, its default configuration, its package. */
export function ComponentDetail({ componentId }: { componentId: string }) {
  const { usecaseId } = usePortal();
  const id = usecaseId ?? "";
  const item = useLoader(() => ml.getComponent(id, componentId), [id, componentId]);
  const { busy, act } = usePageActions(async () => undefined);
  const c = item.data;
  if (item.error && !c) return <StatusIndicator type="error">{item.error}</StatusIndicator>;
  if (!c) return <StatusIndicator type="loading">Loading the component</StatusIndicator>;
  const download = async () => {
    const blob = await ml.componentPackage(id, c.id);
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = `${c.name}-${c.version}.tar.gz`;
    a.click();
    URL.revokeObjectURL(url);
  };
  return (
    <SpaceBetween size="l">
      <Header
        variant="h1"
        description={`${c.kind} component · ${c.platform}`}
        actions={c.package_sha256 && <Button iconName="download" loading={busy === "Download"} onClick={() => void act("Download", download, "Package downloaded")}>Download package</Button>}
      >
        {c.name} {c.version}
      </Header>
      <Container header={<Header variant="h2">Details</Header>}>
        <KeyValuePairs
          columns={3}
          items={[
            { label: "Kind", value: c.kind },
            { label: "Platform", value: c.platform },
            { label: "Model", value: modelLink(c) },
            { label: "Package SHA-256", value: <span title={c.package_sha256 ?? ""}>{shortHash(c.package_sha256, 24)}</span> },
            { label: "Signed with key", value: <span title={c.signing_key_fingerprint ?? ""}>{shortHash(c.signing_key_fingerprint, 24)}</span> },
            { label: "Published by job", value: c.job_id ? <Link href={`#/compilation/${c.job_id}`}>open</Link> : "—" },
            { label: "Created", value: when(c.created_at) },
          ]}
        />
      </Container>
      <Container header={<Header variant="h2">Dependencies</Header>}>
        {Object.keys(c.dependencies).length ? <Json value={c.dependencies} label="Dependencies" /> : <Box color="text-status-inactive">None</Box>}
      </Container>
      <Container header={<Header variant="h2" description="What a deployment applies unless it says otherwise.">Default configuration</Header>}>
        <Json value={c.default_config} label="Default configuration" />
      </Container>
    </SpaceBetween>
  );
}
