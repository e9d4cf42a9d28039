import { useState } from "react";
import Button from "@cloudscape-design/components/button";
import DatePicker from "@cloudscape-design/components/date-picker";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { EmptyState } from "../../components/PageTable";
import { useNotify } from "../../components/notify";
import { useLoader } from "../../hooks";
import { api, type AuditEvent, type AuditFilter, type Page } from "../api";
import { usePortal } from "../context";
import { when } from "../format";
import { P, can, canGlobal } from "../permissions";

const OUTCOMES = [
  { value: "", label: "Any outcome" },
  { value: "success", label: "success" },
  { value: "failure", label: "failure" },
  { value: "denied", label: "denied" },
];

/** The audit log: PortalAdmin sees every use case (or one), a UseCaseAdmin their use case's rows. */
export function AuditPage() {
  const { me, usecases, usecaseId } = usePortal();
  const notify = useNotify();
  const global = canGlobal(me, P.AUDIT_VIEW_ALL);
  const scopes = [
    ...(global ? [{ value: "", label: "All use cases" }] : []),
    ...usecases.filter((u) => can(me, u.id, P.AUDIT_VIEW)).map((u) => ({ value: u.id, label: u.name })),
  ];
  const [scope, setScope] = useState(global ? "" : usecaseId ?? "");
  const [user, setUser] = useState("");
  const [action, setAction] = useState("");
  const [outcome, setOutcome] = useState("");
  const [since, setSince] = useState("");
  const [until, setUntil] = useState("");
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const filter: AuditFilter = {
    user: user.trim() || undefined,
    action: action.trim() || undefined,
    outcome: (outcome || undefined) as AuditFilter["outcome"],
    since: since || undefined,
    until: until || undefined,
  };
  const key = JSON.stringify([scope, filter]);
  const cursor = cursors[cursors.length - 1];
  const page = useLoader<Page<AuditEvent>>(() => api.audit(scope || null, filter, cursor), [key, cursor]);
  const reset = <T,>(set: (v: T) => void) => (v: T) => { set(v); setCursors([undefined]); };
  const exportCsv = async () => {
    try {
      const blob = await api.auditCsv(scope || null, filter);
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = "audit.csv";
      a.click();
      URL.revokeObjectURL(url);
    } catch (e) {
      notify.error(e, "export the audit log");
    }
  };
  return (
    <Table
      header={
        <Header variant="h1" actions={<Button iconName="download" onClick={() => void exportCsv()}>Export CSV</Button>}>
          Audit log
        </Header>
      }
      filter={
        <SpaceBetween direction="horizontal" size="xs">
          <FormField label="Use case">
            <Select selectedOption={scopes.find((s) => s.value === scope) ?? null} options={scopes} onChange={({ detail }) => reset(setScope)(detail.selectedOption.value ?? "")} ariaLabel="Use case" />
          </FormField>
          <FormField label="User">
            <Input value={user} onChange={({ detail }) => reset(setUser)(detail.value)} placeholder="user name" ariaLabel="User" />
          </FormField>
          <FormField label="Action">
            <Input value={action} onChange={({ detail }) => reset(setAction)(detail.value)} placeholder="e.g. user. or deployment.create" ariaLabel="Action" />
          </FormField>
          <FormField label="Outcome">
            <Select selectedOption={OUTCOMES.find((o) => o.value === outcome) ?? OUTCOMES[0]} options={OUTCOMES} onChange={({ detail }) => reset(setOutcome)(detail.selectedOption.value ?? "")} ariaLabel="Outcome" />
          </FormField>
          <FormField label="From">
            <DatePicker value={since} onChange={({ detail }) => reset(setSince)(detail.value)} placeholder="YYYY/MM/DD" ariaLabel="From date" openCalendarAriaLabel={() => "Choose the start date"} />
          </FormField>
          <FormField label="Before">
            <DatePicker value={until} onChange={({ detail }) => reset(setUntil)(detail.value)} placeholder="YYYY/MM/DD" ariaLabel="Before date" openCalendarAriaLabel={() => "Choose the end date"} />
          </FormField>
        </SpaceBetween>
      }
      footer={
        <SpaceBetween direction="horizontal" size="xs">
          <Button disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>Newer</Button>
          <Button disabled={!page.data?.next_cursor} onClick={() => page.data?.next_cursor && setCursors([...cursors, page.data.next_cursor])}>Older</Button>
          {page.error && <StatusIndicator type="error">{page.error}</StatusIndicator>}
        </SpaceBetween>
      }
      items={page.data?.items ?? []}
      loading={page.loading}
      loadingText="Loading the audit log"
      trackBy="seq"
      empty={<EmptyState title="No matching events" />}
      wrapLines
      columnDefinitions={[
        { id: "at", header: "Time", cell: (e) => when(e.at) },
        { id: "actor", header: "User", cell: (e) => e.actor_name },
        { id: "role", header: "Role", cell: (e) => e.role || "—" },
        { id: "action", header: "Action", cell: (e) => e.action },
        { id: "target", header: "Target", cell: (e) => (e.target_type ? `${e.target_type} ${e.target_id}` : "—") },
        { id: "outcome", header: "Outcome", cell: (e) => <StatusIndicator type={e.outcome === "success" ? "success" : e.outcome === "denied" ? "warning" : "error"}>{e.outcome}</StatusIndicator> },
        { id: "client", header: "Client", cell: (e) => e.client_address },
      ]}
    />
  );
}
