import { useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import CopyToClipboard from "@cloudscape-design/components/copy-to-clipboard";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Modal from "@cloudscape-design/components/modal";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { ConfirmDialog, EditDialog } from "../../components/Dialogs";
import { EmptyState } from "../../components/PageTable";
import { useSubmit } from "../../components/actions";
import { useNotify } from "../../components/notify";
import { useLoader } from "../../hooks";
import { USECASE_ROLES, setTokens } from "../api";
import { dataApi, type ApiToken, type ApiTokenCreated } from "../api-data";
import { usePortal } from "../context";
import { when } from "../format";
import { P, can, roleIn } from "../permissions";

/** The signed-in user's own password. */
export function PasswordForm() {
  const { reloadSession } = usePortal();
  const [changed, setChanged] = useState(false);
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const { busy, failure, setFailure, run } = useSubmit();
  const save = () => {
    if (!current || !next) return setFailure("Enter the current and the new password.");
    if (next !== again) return setFailure("The new password and its repetition differ.");
    void run(async () => {
      await dataApi.changePassword(current, next);
      setCurrent("");
      setNext("");
      setAgain("");
      setChanged(true);
    });
  };
  // A new password ends every earlier login, this one included.
  const signInAgain = () => {
    setTokens(null);
    void reloadSession();
  };
  return (
    <Container header={<Header variant="h2" description="Changing it signs out every session of yours, this one included.">My password</Header>}>
      <form onSubmit={(e) => { e.preventDefault(); save(); }}>
        <Form actions={<Button variant="primary" loading={busy} formAction="submit" data-testid="password-save">Change password</Button>}>
          <SpaceBetween size="s">
            {failure && <Alert type="error">{failure}</Alert>}
            {changed && (
              <Alert type="success" action={<Button onClick={signInAgain} data-testid="password-relogin">Sign in again</Button>}>
                Password changed. Sign in again with the new one.
              </Alert>
            )}
            <FormField label="Current password"><Input type="password" value={current} onChange={({ detail }) => setCurrent(detail.value)} ariaLabel="Current password" /></FormField>
            <FormField label="New password" description="At least the length the portal's policy asks for."><Input type="password" value={next} onChange={({ detail }) => setNext(detail.value)} ariaLabel="New password" /></FormField>
            <FormField label="New password again"><Input type="password" value={again} onChange={({ detail }) => setAgain(detail.value)} ariaLabel="New password again" /></FormField>
          </SpaceBetween>
        </Form>
      </form>
    </Container>
  );
}

/** Roles a token may carry: never more than the caller's own role in the use case. */
function tokenRoles(role: string | null): string[] {
  if (role === "PortalAdmin" || role === "UseCaseAdmin") return [...USECASE_ROLES];
  if (!role || role === "Viewer") return ["Viewer"];
  return [role, "Viewer"];
}

function CreateTokenDialog({ usecaseId, roles, onClose, onCreated }: { usecaseId: string; roles: string[]; onClose: () => void; onCreated: (t: ApiTokenCreated) => void }) {
  const [name, setName] = useState("");
  const [role, setRole] = useState(roles[0]);
  const [days, setDays] = useState("30");
  const { busy, failure, setFailure, run } = useSubmit();
  const save = () => {
    if (!name.trim()) return setFailure("Name the token (what uses it).");
    void run(async () => onCreated(await dataApi.createToken(usecaseId, name.trim(), role, Number(days))));
  };
  return (
    <EditDialog header="Create an API token" saveTestId="token-save" busy={busy} failure={failure} onSave={save} onClose={onClose}>
      <FormField label="Name" description="What uses it, e.g. nightly-import."><Input value={name} onChange={({ detail }) => setName(detail.value)} ariaLabel="Token name" data-testid="token-name" /></FormField>
      <FormField label="Role"><Select selectedOption={{ value: role, label: role }} options={roles.map((r) => ({ value: r, label: r }))} onChange={({ detail }) => setRole(detail.selectedOption.value ?? roles[0])} ariaLabel="Token role" /></FormField>
      <FormField label="Expires after (days)" description="1 to 365."><Input type="number" value={days} onChange={({ detail }) => setDays(detail.value)} ariaLabel="Expires after days" /></FormField>
    </EditDialog>
  );
}

/** The caller's own API tokens in the current use case: create (shown once), list, revoke. */
export function TokensPanel({ usecaseId }: { usecaseId: string }) {
  const { me } = usePortal();
  const notify = useNotify();
  const tokens = useLoader(() => dataApi.listTokens(usecaseId), [usecaseId]);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<ApiTokenCreated | null>(null);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const mayCreate = can(me, usecaseId, P.TOKEN_MANAGE);
  const revoke = (t: ApiToken) => {
    setRevoking(null);
    dataApi.revokeToken(t.id).then(() => { notify.success(`Token ${t.name} revoked.`); void tokens.reload(); }, (e: unknown) => notify.error(e, "revoke the token"));
  };
  return (
    <>
      <Table
        variant="container"
        header={<Header variant="h2" description="For scripts and the CLI; a token acts with its role in this use case." counter={`(${tokens.data?.length ?? 0})`}
          actions={mayCreate && <Button onClick={() => setCreating(true)} data-testid="token-create">Create token</Button>}>My API tokens</Header>}
        items={tokens.data ?? []}
        loading={tokens.loading && !tokens.data}
        loadingText="Loading tokens"
        trackBy="id"
        empty={<EmptyState title="No API tokens" />}
        columnDefinitions={[
          { id: "name", header: "Name", cell: (t) => t.name },
          { id: "role", header: "Role", cell: (t) => t.role },
          { id: "state", header: "State", cell: (t) => <StatusIndicator type={t.revoked_at ? "stopped" : new Date(t.expires_at) < new Date() ? "warning" : "success"}>{t.revoked_at ? "revoked" : new Date(t.expires_at) < new Date() ? "expired" : "active"}</StatusIndicator> },
          { id: "expires", header: "Expires", cell: (t) => when(t.expires_at) },
          { id: "used", header: "Last used", cell: (t) => when(t.last_used_at) },
          { id: "actions", header: "Actions", cell: (t) => (t.revoked_at ? "—" : <Button variant="inline-link" onClick={() => setRevoking(t)} ariaLabel={`Revoke ${t.name}`}>Revoke</Button>) },
        ]}
      />
      {creating && (
        <CreateTokenDialog usecaseId={usecaseId} roles={tokenRoles(roleIn(me, usecaseId))} onClose={() => setCreating(false)}
          onCreated={(t) => { setCreating(false); setCreated(t); void tokens.reload(); }} />
      )}
      {created && (
        <Modal visible onDismiss={() => setCreated(null)} header={`Token ${created.name}`} footer={<Box float="right"><Button variant="primary" onClick={() => setCreated(null)}>Done</Button></Box>}>
          <SpaceBetween size="m">
            <Alert type="warning">Shown once: copy it now. Only its hash is kept.</Alert>
            <pre className="command" data-testid="token-value">{created.token}</pre>
            <CopyToClipboard textToCopy={created.token} copyButtonText="Copy token" copySuccessText="Token copied" copyErrorText="Could not copy" />
          </SpaceBetween>
        </Modal>
      )}
      <ConfirmDialog visible={!!revoking} header={`Revoke ${revoking?.name ?? ""}?`} confirm="Revoke" onCancel={() => setRevoking(null)} onConfirm={() => revoking && revoke(revoking)}>
        Scripts using this token stop working at once.
      </ConfirmDialog>
    </>
  );
}
