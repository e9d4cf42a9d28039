import { useState } from "react";
import Button from "@cloudscape-design/components/button";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Link from "@cloudscape-design/components/link";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import Textarea from "@cloudscape-design/components/textarea";
import { EditDialog } from "../../components/Dialogs";
import { EmptyState } from "../../components/PageTable";
import { useSubmit } from "../../components/actions";
import { navigate, useLoader } from "../../hooks";
import { api, type Deployment, type TargetKind } from "../api";
import { usePortal } from "../context";
import { parseConfig, parseWaves, when } from "../format";
import { P, can } from "../permissions";
import { NoUseCase } from "./NoUseCase";
import { PackagePicker } from "./PackagePicker";
import { choices } from "./Devices";

export function DeploymentStatus({ status }: { status: string }) {
  const type =
    status === "completed" ? "success" : status === "failed" ? "error" : status === "cancelled" ? "stopped" : "in-progress";
  return <StatusIndicator type={type}>{status}</StatusIndicator>;
}

const KINDS: { value: TargetKind; label: string }[] = [
  { value: "device", label: "One device" },
  { value: "group", label: "A device group" },
  { value: "tag", label: "Devices with a tag" },
];

function CreateDialog({ usecaseId, onClose, onCreated }: { usecaseId: string; onClose: () => void; onCreated: (d: Deployment) => void }) {
  const devices = useLoader(() => api.listDevices(usecaseId), [usecaseId]);
  const [name, setName] = useState("");
  const [kind, setKind] = useState<TargetKind>("group");
  const [value, setValue] = useState("");
  const [packages, setPackages] = useState<string[]>([]);
  const [waves, setWaves] = useState("100%");
  const [soak, setSoak] = useState("0");
  const [threshold, setThreshold] = useState("0");
  const [configText, setConfigText] = useState("");
  const { busy, failure, setFailure, run } = useSubmit();
  const all = (devices.data ?? []).filter((d) => !d.revoked_at);
  const targets =
    kind === "device"
      ? all.map((d) => ({ value: d.id, label: d.name, description: d.status }))
      : choices(kind === "group" ? all.map((d) => d.group) : all.flatMap((d) => d.tags.map(String)), "").slice(1);
  const save = () => {
    const parsedWaves = parseWaves(waves);
    if (!name.trim()) return setFailure("Enter a name.");
    if (!value) return setFailure("Choose what to deploy to.");
    if (!parsedWaves) return setFailure('Waves: comma-separated counts or percentages, e.g. "1, 50%, 100%".');
    const config = parseConfig(configText);
    if (config === null) return setFailure("The station configuration must be a JSON object.");
    if (packages.length === 0 && !config) return setFailure("Choose a package or give a station configuration.");
    void run(async () =>
      onCreated(
        await api.createDeployment(usecaseId, {
          name: name.trim(),
          target: { kind, value },
          packages,
          config,
          waves: parsedWaves,
          soak_s: Number(soak) || 0,
          failure_threshold: Number(threshold) || 0,
        }),
      ),
    );
  };
  return (
    <EditDialog header="Create deployment" saveTestId="deployment-save" busy={busy} failure={failure} onSave={save} onClose={onClose}>
      <FormField label="Name">
        <Input value={name} onChange={({ detail }) => setName(detail.value)} ariaLabel="Deployment name" />
      </FormField>
      <SpaceBetween direction="horizontal" size="xs">
        <FormField label="Target">
          <Select
            selectedOption={KINDS.find((k) => k.value === kind) ?? null}
            options={KINDS}
            onChange={({ detail }) => { setKind(detail.selectedOption.value as TargetKind); setValue(""); }}
            ariaLabel="Target kind"
          />
        </FormField>
        <FormField label={kind === "device" ? "Device" : kind === "group" ? "Group" : "Tag"}>
          <Select
            selectedOption={targets.find((t) => t.value === value) ?? null}
            options={targets}
            onChange={({ detail }) => setValue(detail.selectedOption.value ?? "")}
            placeholder="Choose"
            empty="No devices enrolled"
            statusType={devices.loading ? "loading" : "finished"}
            filteringType="auto"
            ariaLabel="Target"
            data-testid="deployment-target"
          />
        </FormField>
      </SpaceBetween>
      <PackagePicker usecaseId={usecaseId} selected={packages} onChange={setPackages} />
      <FormField label="Station configuration (optional)" description="A station configuration document (version, sources, workflows; see docs/fleet.md) the stations validate and apply with the packages, or roll back.">
        <Textarea value={configText} onChange={({ detail }) => setConfigText(detail.value)} rows={3} ariaLabel="Station configuration as JSON" placeholder='{"version": "line-2026-12", "sources": [], "workflows": []}' />
      </FormField>
      <FormField label="Waves" description='Devices per wave: counts or percentages, e.g. "1, 50%, 100%".'>
        <Input value={waves} onChange={({ detail }) => setWaves(detail.value)} ariaLabel="Waves" />
      </FormField>
      <SpaceBetween direction="horizontal" size="xs">
        <FormField label="Soak time (s)" description="Wait between waves.">
          <Input type="number" value={soak} onChange={({ detail }) => setSoak(detail.value)} ariaLabel="Soak time in seconds" />
        </FormField>
        <FormField label="Failure threshold" description="Failed devices that stop the rollout.">
          <Input type="number" value={threshold} onChange={({ detail }) => setThreshold(detail.value)} ariaLabel="Failure threshold" />
        </FormField>
      </SpaceBetween>
    </EditDialog>
  );
}

/** Deployments of the current use case (refreshed every 5 s). */
export function DeploymentsPage() {
  const { me, usecaseId } = usePortal();
  const [creating, setCreating] = useState(false);
  const list = useLoader(() => (usecaseId ? api.listDeployments(usecaseId) : Promise.resolve([])), [usecaseId], 5_000);
  if (!usecaseId) return <NoUseCase />;
  return (
    <>
      {creating && (
        <CreateDialog usecaseId={usecaseId} onClose={() => setCreating(false)} onCreated={(d) => { setCreating(false); navigate(`/deployments/${d.id}`); }} />
      )}
      <Table
        header={
          <Header
            variant="h1"
            counter={list.data ? `(${list.data.length})` : undefined}
            actions={can(me, usecaseId, P.DEPLOYMENT_WRITE) && <Button variant="primary" onClick={() => setCreating(true)} data-testid="deployment-create">Create deployment</Button>}
          >
            Deployments
          </Header>
        }
        items={list.data ?? []}
        loading={list.loading && !list.data}
        loadingText="Loading deployments"
        trackBy="id"
        empty={<EmptyState title="No deployments yet" />}
        columnDefinitions={[
          { id: "name", header: "Name", cell: (d) => <Link href={`#/deployments/${d.id}`}>{d.name}</Link> },
          { id: "target", header: "Target", cell: (d) => `${d.target_kind}: ${d.target_value}` },
          { id: "status", header: "Status", cell: (d) => <DeploymentStatus status={d.status} /> },
          { id: "waves", header: "Wave", cell: (d) => `${d.released_wave + 1} / ${d.waves.length}` },
          { id: "rollback", header: "Rollback of", cell: (d) => (d.rollback_of ? <Link href={`#/deployments/${d.rollback_of}`}>previous</Link> : "—") },
          { id: "created", header: "Created", cell: (d) => when(d.created_at) },
        ]}
      />
    </>
  );
}
