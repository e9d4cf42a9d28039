import { useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Button from "@cloudscape-design/components/button";
import Checkbox from "@cloudscape-design/components/checkbox";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import Textarea from "@cloudscape-design/components/textarea";
import { EditDialog } from "../../components/Dialogs";
import { EmptyState } from "../../components/PageTable";
import { useSubmit } from "../../components/actions";
import { useNotify } from "../../components/notify";
import { useLoader } from "../../hooks";
import { api, type ModelType, type UseCase, type UseCaseSettings } from "../api";
import { usePortal } from "../context";
import { when } from "../format";
import { P, can, canGlobal } from "../permissions";

const MODEL_TYPES: ModelType[] = ["classification", "segmentation", "anomaly"];

export function OnboardingStatus({ usecase }: { usecase: UseCase }) {
  const s = usecase.onboarding_status;
  const type = s === "ready" ? "success" : s === "failed" ? "error" : "in-progress";
  return <StatusIndicator type={type}>{usecase.onboarding_error ? `${s}: ${usecase.onboarding_error}` : s}</StatusIndicator>;
}

function CreateDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (u: UseCase) => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [costCenter, setCostCenter] = useState("");
  const { busy, failure, setFailure, run } = useSubmit();
  const save = () => {
    if (!name.trim()) return setFailure("Enter a name.");
    void run(async () => onCreated(await api.createUseCase({ name: name.trim(), description, cost_center: costCenter })));
  };
  return (
    <EditDialog header="Create use case" saveTestId="usecase-save" busy={busy} failure={failure} onSave={save} onClose={onClose}>
      <FormField label="Name" description="Letters, digits, spaces, '.', '_' or '-'.">
        <Input value={name} onChange={({ detail }) => setName(detail.value)} ariaLabel="Use case name" data-testid="usecase-name" />
      </FormField>
      <FormField label="Description">
        <Textarea value={description} onChange={({ detail }) => setDescription(detail.value)} ariaLabel="Description" />
      </FormField>
      <FormField label="Cost center">
        <Input value={costCenter} onChange={({ detail }) => setCostCenter(detail.value)} ariaLabel="Cost center" />
      </FormField>
    </EditDialog>
  );
}

function SettingsDialog({ usecase, onClose, onSaved }: { usecase: UseCase; onClose: () => void; onSaved: () => void }) {
  const [settings, setSettings] = useState<UseCaseSettings>(usecase.settings);
  const [description, setDescription] = useState(usecase.description);
  const { busy, failure, run } = useSubmit();
  const set = <K extends keyof UseCaseSettings>(key: K, value: UseCaseSettings[K]) => setSettings({ ...settings, [key]: value });
  const save = () =>
    void run(async () => {
      await api.updateUseCase(usecase.id, { description });
      await api.updateSettings(usecase.id, settings);
      onSaved();
    });
  return (
    <EditDialog header={`Settings of ${usecase.name}`} saveTestId="settings-save" busy={busy} failure={failure} onSave={save} onClose={onClose}>
      <FormField label="Description">
        <Textarea value={description} onChange={({ detail }) => setDescription(detail.value)} ariaLabel="Description" />
      </FormField>
      <FormField label="Default model type">
        <Select
          selectedOption={{ value: settings.default_model_type, label: settings.default_model_type }}
          options={MODEL_TYPES.map((t) => ({ value: t, label: t }))}
          onChange={({ detail }) => set("default_model_type", detail.selectedOption.value as ModelType)}
          ariaLabel="Default model type"
        />
      </FormField>
      <Checkbox checked={settings.auto_pipeline} onChange={({ detail }) => set("auto_pipeline", detail.checked)}>
        Compile and package new models automatically
      </Checkbox>
      <FormField label="Result retention (days)">
        <Input type="number" value={String(settings.result_retention_days)} onChange={({ detail }) => set("result_retention_days", Number(detail.value))} ariaLabel="Result retention in days" />
      </FormField>
      <FormField label="Storage quota (MB)">
        <Input type="number" value={String(settings.storage_quota_mb)} onChange={({ detail }) => set("storage_quota_mb", Number(detail.value))} ariaLabel="Storage quota in megabytes" />
      </FormField>
    </EditDialog>
  );
}

/** Use cases the user sees; PortalAdmin creates them; admins of a use case edit its settings. */
export function UseCasesPage() {
  const { me, usecases, reloadSession, setUsecaseId } = usePortal();
  const notify = useNotify();
  const [selected, setSelected] = useState<UseCase | null>(null);
  const [dialog, setDialog] = useState<"create" | "settings" | null>(null);
  // Onboarding runs in the background: refresh while one is pending.
  const pending = usecases.some((u) => u.onboarding_status !== "ready" && u.onboarding_status !== "failed");
  useLoader(async () => { if (pending) await reloadSession(); }, [pending], pending ? 3000 : undefined);
  const mayCreate = canGlobal(me, P.USECASE_CREATE);
  const current = selected ? usecases.find((u) => u.id === selected.id) ?? null : null;
  return (
    <SpaceBetween size="l">
      <Table
        header={
          <Header
            variant="h1"
            counter={`(${usecases.length})`}
            actions={
              <SpaceBetween direction="horizontal" size="xs">
                <Button disabled={!current || !can(me, current.id, P.USECASE_UPDATE)} onClick={() => setDialog("settings")}>Settings</Button>
                {current?.onboarding_status === "failed" && can(me, current.id, P.USECASE_UPDATE) && (
                  <Button onClick={() => void api.reonboard(current.id).then(reloadSession, (e: unknown) => notify.error(e, "retry onboarding"))}>Retry onboarding</Button>
                )}
                {mayCreate && <Button variant="primary" onClick={() => setDialog("create")} data-testid="usecase-create">Create use case</Button>}
              </SpaceBetween>
            }
          >
            Use cases
          </Header>
        }
        items={usecases}
        selectionType="single"
        selectedItems={current ? [current] : []}
        onSelectionChange={({ detail }) => setSelected(detail.selectedItems[0] ?? null)}
        ariaLabels={{ selectionGroupLabel: "Use cases", itemSelectionLabel: (_, u) => `Select ${u.name}`, allItemsSelectionLabel: () => "Select all" }}
        trackBy="id"
        empty={<EmptyState title="No use cases" subtitle={mayCreate ? "Create the first one." : "Ask a PortalAdmin to add you to a team."} />}
        columnDefinitions={[
          { id: "name", header: "Name", cell: (u) => u.name },
          { id: "role", header: "Your role", cell: (u) => u.my_role ?? (me.is_portal_admin ? "PortalAdmin" : "—") },
          { id: "status", header: "Onboarding", cell: (u) => <OnboardingStatus usecase={u} /> },
          { id: "type", header: "Model type", cell: (u) => u.settings.default_model_type },
          { id: "storage", header: "Storage", cell: (u) => u.storage },
          { id: "created", header: "Created", cell: (u) => when(u.created_at) },
        ]}
      />
      {usecases.length === 0 && !mayCreate && <Alert type="info">You are in no use case team yet.</Alert>}
      {dialog === "create" && (
        <CreateDialog
          onClose={() => setDialog(null)}
          onCreated={(u) => {
            setDialog(null);
            notify.success(`Use case ${u.name} created; onboarding ${u.onboarding_status}.`);
            setUsecaseId(u.id);
            void reloadSession();
          }}
        />
      )}
      {dialog === "settings" && current && (
        <SettingsDialog
          usecase={current}
          onClose={() => setDialog(null)}
          onSaved={() => {
            setDialog(null);
            notify.success("Settings saved.");
            void reloadSession();
          }}
        />
      )}
    </SpaceBetween>
  );
}
