import { useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Button from "@cloudscape-design/components/button";
import Checkbox from "@cloudscape-design/components/checkbox";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import ProgressBar from "@cloudscape-design/components/progress-bar";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import { useSubmit } from "../../components/actions";
import { useNotify } from "../../components/notify";
import { useLoader } from "../../hooks";
import { api, type ModelType, type UseCase, type UseCaseSettings } from "../api";
import { dataApi, type SigningKey } from "../api-data";
import { usePortal } from "../context";
import { bytes } from "../data-format";
import { when } from "../format";
import { P, can } from "../permissions";
import { OnboardingStatus } from "./UseCases";
import { PasswordForm, TokensPanel } from "./SettingsAccount";
import "./DataPages.css";

const MODEL_TYPES: ModelType[] = ["classification", "segmentation", "anomaly"];

function UseCaseSettingsForm({ usecase, mayEdit, onSaved }: { usecase: UseCase; mayEdit: boolean; onSaved: () => void }) {
  const [s, setS] = useState<UseCaseSettings>(usecase.settings);
  useEffect(() => setS(usecase.settings), [usecase.id, usecase.settings]);
  const { busy, failure, run } = useSubmit();
  const set = <K extends keyof UseCaseSettings>(key: K, value: UseCaseSettings[K]) => setS({ ...s, [key]: value });
  const save = () => void run(async () => { await api.updateSettings(usecase.id, s); onSaved(); });
  return (
    <Container header={<Header variant="h2" description={mayEdit ? undefined : "Only a UseCaseAdmin changes these."}>Settings of {usecase.name}</Header>}>
      <Form actions={mayEdit && <Button variant="primary" loading={busy} onClick={save} data-testid="ucsettings-save">Save settings</Button>}>
        <SpaceBetween size="m">
          {failure && <Alert type="error" header="Not saved">{failure}</Alert>}
          <ColumnLayout columns={3}>
            <FormField label="Default model type">
              <Select disabled={!mayEdit} selectedOption={{ value: s.default_model_type, label: s.default_model_type }} options={MODEL_TYPES.map((t) => ({ value: t, label: t }))}
                onChange={({ detail }) => set("default_model_type", detail.selectedOption.value as ModelType)} ariaLabel="Default model type" />
            </FormField>
            <FormField label="Result retention (days)">
              <Input disabled={!mayEdit} type="number" value={String(s.result_retention_days)} onChange={({ detail }) => set("result_retention_days", Number(detail.value))} ariaLabel="Result retention in days" />
            </FormField>
            <FormField label="Storage quota (MB)" description="0: no quota.">
              <Input disabled={!mayEdit} type="number" value={String(s.storage_quota_mb)} onChange={({ detail }) => set("storage_quota_mb", Number(detail.value))} ariaLabel="Storage quota in megabytes" />
            </FormField>
          </ColumnLayout>
          <Checkbox disabled={!mayEdit} checked={s.auto_pipeline} onChange={({ detail }) => set("auto_pipeline", detail.checked)}>
            Compile and package new models automatically{s.auto_pipeline_targets.length ? ` (targets: ${s.auto_pipeline_targets.join(", ")})` : ""}
          </Checkbox>
          <Checkbox disabled={!mayEdit || !s.auto_pipeline} checked={s.auto_pipeline_int8} onChange={({ detail }) => set("auto_pipeline_int8", detail.checked)}>
            Also an INT8 package
          </Checkbox>
        </SpaceBetween>
      </Form>
    </Container>
  );
}

function StoragePanel({ usecase, mayEdit, onChanged }: { usecase: UseCase; mayEdit: boolean; onChanged: () => void }) {
  const notify = useNotify();
  const [busy, setBusy] = useState(false);
  const quota = usecase.settings.storage_quota_mb * 1024 * 1024;
  const reonboard = () => {
    setBusy(true);
    api.reonboard(usecase.id).then(
      () => { notify.success("Onboarding started again."); onChanged(); },
      (e: unknown) => notify.error(e, "re-run onboarding"),
    ).finally(() => setBusy(false));
  };
  return (
    <Container header={<Header variant="h2" description="Onboarding makes the use case's storage and keys."
      actions={mayEdit && <Button loading={busy} onClick={reonboard} data-testid="reonboard">Re-run onboarding</Button>}>Storage and onboarding</Header>}>
      <SpaceBetween size="m">
        <KeyValuePairs columns={3} items={[
          { label: "Onboarding", value: <OnboardingStatus usecase={usecase} /> },
          { label: "Storage", value: usecase.storage },
          { label: "Created", value: when(usecase.created_at) },
        ]} />
        <ProgressBar label="Storage used" value={quota ? Math.min(100, (100 * usecase.bytes_used) / quota) : 0}
          description={quota ? `${bytes(usecase.bytes_used)} of ${bytes(quota)}` : `${bytes(usecase.bytes_used)} (no quota)`} />
      </SpaceBetween>
    </Container>
  );
}

function SigningKeys({ usecaseId }: { usecaseId: string }) {
  const keys = useLoader(() => dataApi.signingKeys(usecaseId), [usecaseId]);
  const download = (k: SigningKey) => {
    const blob = new Blob([k.public_pem], { type: "application/x-pem-file" });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = `signing-key-${k.fingerprint.slice(0, 16)}.pem`;
    a.click();
    window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  return (
    <Table
      variant="container"
      header={<Header variant="h2" description="Stations verify model packages with these public keys; the private key never leaves the portal.">Package signing keys</Header>}
      items={keys.data ?? []}
      loading={keys.loading && !keys.data}
      loadingText="Loading keys"
      trackBy="fingerprint"
      columnDefinitions={[
        { id: "fp", header: "Fingerprint", cell: (k) => <code>{k.fingerprint.slice(0, 32)}…</code> },
        { id: "state", header: "State", cell: (k) => (k.active ? "active" : `retired ${when(k.retired_at)}`) },
        { id: "created", header: "Created", cell: (k) => when(k.created_at) },
        { id: "download", header: "Public key", cell: (k) => <Button variant="inline-link" iconName="download" onClick={() => download(k)} ariaLabel={`Download public key ${k.fingerprint.slice(0, 12)}`} data-testid="key-download">Download .pem</Button> },
      ]}
    />
  );
}

/** Settings: the current use case's settings, storage and signing keys; the user's password and API tokens. */
export function SettingsPage() {
  const { me, usecases, usecaseId, reloadSession } = usePortal();
  const notify = useNotify();
  const usecase = usecases.find((u) => u.id === usecaseId) ?? null;
  const mayEdit = !!usecase && can(me, usecase.id, P.USECASE_UPDATE);
  return (
    <SpaceBetween size="l">
      <Header variant="h1" description={usecase ? `Use case ${usecase.name}, and your own account.` : "Your own account."}>Settings</Header>
      {usecase && (
        <SpaceBetween size="l">
          <UseCaseSettingsForm usecase={usecase} mayEdit={mayEdit} onSaved={() => { notify.success("Settings saved."); void reloadSession(); }} />
          <StoragePanel usecase={usecase} mayEdit={mayEdit} onChanged={() => void reloadSession()} />
          {can(me, usecase.id, P.COMPONENT_VIEW) && <SigningKeys usecaseId={usecase.id} />}
          <TokensPanel usecaseId={usecase.id} />
        </SpaceBetween>
      )}
      <PasswordForm />
    </SpaceBetween>
  );
}
