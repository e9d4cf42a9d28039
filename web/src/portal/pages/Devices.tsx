import { useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import CopyToClipboard from "@cloudscape-design/components/copy-to-clipboard";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Link from "@cloudscape-design/components/link";
import Modal from "@cloudscape-design/components/modal";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { EditDialog } from "../../components/Dialogs";
import { EmptyState } from "../../components/PageTable";
import { useSubmit } from "../../components/actions";
import { useLoader } from "../../hooks";
import { api, type Device, type EnrollmentToken } from "../api";
import { usePortal } from "../context";
import { metric, when } from "../format";
import { P, can } from "../permissions";
import { NoUseCase } from "./NoUseCase";

export function DeviceStatus({ status }: { status: string }) {
  const type = status === "online" ? "success" : status === "revoked" ? "stopped" : status === "offline" ? "warning" : "pending";
  return <StatusIndicator type={type}>{status}</StatusIndicator>;
}

/** The distinct, non-empty values of a list (sorted) as Select options, with "any" first. */
export function choices(values: string[], anyLabel: string) {
  const distinct = [...new Set(values.filter(Boolean))].sort();
  return [{ value: "", label: anyLabel }, ...distinct.map((v) => ({ value: v, label: v }))];
}

function EnrollDialog({ groups, onClose }: { groups: string[]; onClose: () => void }) {
  const { usecaseId } = usePortal();
  const [name, setName] = useState("");
  const [group, setGroup] = useState("");
  const [token, setToken] = useState<EnrollmentToken | null>(null);
  const { busy, failure, run } = useSubmit();
  if (token) {
    return (
      <Modal visible onDismiss={onClose} header="Enroll a station" footer={<Box float="right"><Button variant="primary" onClick={onClose}>Done</Button></Box>}>
        <SpaceBetween size="m">
          <Alert type="warning">This command is shown once. Run it on the station before {when(token.expires_at)}.</Alert>
          <pre className="command" data-testid="enroll-command">{token.command}</pre>
          <CopyToClipboard textToCopy={token.command} copyButtonText="Copy command" copySuccessText="Command copied" copyErrorText="Could not copy" />
        </SpaceBetween>
      </Modal>
    );
  }
  const save = () =>
    void run(async () => {
      if (!usecaseId) return;
      setToken(await api.createEnrollmentToken(usecaseId, { device_name: name.trim() || undefined, group }));
    });
  return (
    <EditDialog header="Enroll a station" saveTestId="enroll-save" busy={busy} failure={failure} onSave={save} onClose={onClose}>
      <FormField label="Device name" description="Optional; the station's host name otherwise.">
        <Input value={name} onChange={({ detail }) => setName(detail.value)} ariaLabel="Device name" />
      </FormField>
      <FormField label="Group" description="Pick an existing group or type a new one.">
        <Input value={group} onChange={({ detail }) => setGroup(detail.value)} ariaLabel="Group" />
      </FormField>
      {groups.length > 0 && <Box variant="small">Existing groups: {groups.join(", ")}</Box>}
    </EditDialog>
  );
}

/** The fleet of the current use case: status, filters, enrollment. */
export function DevicesPage({ initialGroup }: { initialGroup?: string }) {
  const { me, usecaseId } = usePortal();
  const [group, setGroup] = useState(initialGroup ?? "");
  const [tag, setTag] = useState("");
  const [status, setStatus] = useState("");
  const [query, setQuery] = useState("");
  const [enrolling, setEnrolling] = useState(false);
  // All devices once (for the filter choices), the filtering by group/tag/name server-side.
  const all = useLoader(() => (usecaseId ? api.listDevices(usecaseId) : Promise.resolve([])), [usecaseId], 10_000);
  const devices = useLoader(
    () => (usecaseId ? api.listDevices(usecaseId, { group, tag, q: query.trim() }) : Promise.resolve([])),
    [usecaseId, group, tag, query],
    10_000,
  );
  if (!usecaseId) return <NoUseCase />;
  const everything: Device[] = all.data ?? [];
  const groups = choices(everything.map((d) => d.group), "Any group");
  const tags = choices(everything.flatMap((d) => d.tags.map(String)), "Any tag");
  const statuses = choices(everything.map((d) => d.status), "Any status");
  const shown = (devices.data ?? []).filter((d) => !status || d.status === status);
  const pick = (options: { value: string; label: string }[], value: string) => options.find((o) => o.value === value) ?? options[0];
  return (
    <SpaceBetween size="l">
      {enrolling && <EnrollDialog groups={groups.slice(1).map((g) => g.value)} onClose={() => { setEnrolling(false); void all.reload(); }} />}
      <Table
        header={
          <Header
            variant="h1"
            counter={`(${shown.length})`}
            actions={can(me, usecaseId, P.DEVICE_MANAGE) && <Button variant="primary" onClick={() => setEnrolling(true)} data-testid="enroll">Enroll a station</Button>}
          >
            Devices
          </Header>
        }
        filter={
          <SpaceBetween direction="horizontal" size="xs">
            <Input type="search" value={query} onChange={({ detail }) => setQuery(detail.value)} placeholder="Find by name" ariaLabel="Find devices by name" />
            <Select selectedOption={pick(groups, group)} options={groups} onChange={({ detail }) => setGroup(detail.selectedOption.value ?? "")} ariaLabel="Filter by group" />
            <Select selectedOption={pick(tags, tag)} options={tags} onChange={({ detail }) => setTag(detail.selectedOption.value ?? "")} ariaLabel="Filter by tag" />
            <Select selectedOption={pick(statuses, status)} options={statuses} onChange={({ detail }) => setStatus(detail.selectedOption.value ?? "")} ariaLabel="Filter by status" />
          </SpaceBetween>
        }
        items={shown}
        loading={devices.loading && !devices.data}
        loadingText="Loading devices"
        trackBy="id"
        empty={<EmptyState title="No devices" subtitle="Enroll a station to see it here." />}
        columnDefinitions={[
          { id: "name", header: "Name", cell: (d) => <Link href={`#/devices/${d.id}`}>{d.name}</Link> },
          { id: "status", header: "Status", cell: (d) => <DeviceStatus status={d.status} /> },
          { id: "group", header: "Group", cell: (d) => d.group || "—" },
          { id: "tags", header: "Tags", cell: (d) => d.tags.join(", ") || "—" },
          { id: "cpu", header: "CPU %", cell: (d) => metric(d.last_heartbeat, "cpu_pct")?.toFixed(0) ?? "—" },
          { id: "seen", header: "Last seen", cell: (d) => when(d.last_seen_at) },
        ]}
      />
      {devices.error && <StatusIndicator type="error">{devices.error}</StatusIndicator>}
    </SpaceBetween>
  );
}
