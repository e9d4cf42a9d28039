import { useState } from "react";
import Autosuggest from "@cloudscape-design/components/autosuggest";
import Button from "@cloudscape-design/components/button";
import Checkbox from "@cloudscape-design/components/checkbox";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { ConfirmDialog, EditDialog } from "../../components/Dialogs";
import { EmptyState } from "../../components/PageTable";
import { usePageActions, useSubmit } from "../../components/actions";
import { useLoader } from "../../hooks";
import { USECASE_ROLES, api, type Member, type User, type UseCaseRoleName } from "../api";
import { usePortal } from "../context";
import { when } from "../format";
import { P, can, canGlobal } from "../permissions";

const roleOptions = USECASE_ROLES.map((r) => ({ value: r, label: r }));

function CreateUserDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (u: User) => void }) {
  const [username, setUsername] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [password, setPassword] = useState("");
  const [admin, setAdmin] = useState(false);
  const { busy, failure, setFailure, run } = useSubmit();
  const save = () => {
    if (!username.trim() || !password) return setFailure("Enter a user name and an initial password.");
    void run(async () =>
      onCreated(await api.createUser({ username: username.trim(), password, display_name: displayName || null, is_portal_admin: admin })),
    );
  };
  return (
    <EditDialog header="Create user" saveTestId="user-save" busy={busy} failure={failure} onSave={save} onClose={onClose}>
      <FormField label="User name">
        <Input value={username} onChange={({ detail }) => setUsername(detail.value)} ariaLabel="User name" data-testid="user-username" />
      </FormField>
      <FormField label="Display name">
        <Input value={displayName} onChange={({ detail }) => setDisplayName(detail.value)} ariaLabel="Display name" />
      </FormField>
      <FormField label="Initial password" description="12+ characters with upper and lower case, a digit and a symbol.">
        <Input type="password" value={password} onChange={({ detail }) => setPassword(detail.value)} ariaLabel="Initial password" data-testid="user-password" />
      </FormField>
      <Checkbox checked={admin} onChange={({ detail }) => setAdmin(detail.checked)}>PortalAdmin (manages every use case and user)</Checkbox>
    </EditDialog>
  );
}

function UsersTable({ users, reload }: { users: User[] | undefined; reload: () => Promise<void> }) {
  const [creating, setCreating] = useState(false);
  const [selected, setSelected] = useState<User | null>(null);
  const { busy, act } = usePageActions(reload);
  const current = selected ? users?.find((u) => u.id === selected.id) ?? null : null;
  return (
    <>
      <Table
        header={
          <Header
            variant="h2"
            counter={users ? `(${users.length})` : undefined}
            description="Every portal user (PortalAdmin only)."
            actions={
              <SpaceBetween direction="horizontal" size="xs">
                <Button
                  disabled={!current}
                  loading={busy === "Disable"}
                  onClick={() => current && void act("Disable", () => api.updateUser(current.username, { disabled: !current.disabled }), `${current.username} ${current.disabled ? "enabled" : "disabled"}.`)}
                >
                  {current?.disabled ? "Enable" : "Disable"}
                </Button>
                <Button variant="primary" onClick={() => setCreating(true)} data-testid="user-create">Create user</Button>
              </SpaceBetween>
            }
          >
            Users
          </Header>
        }
        items={users ?? []}
        loading={!users}
        loadingText="Loading users"
        trackBy="id"
        selectionType="single"
        selectedItems={current ? [current] : []}
        onSelectionChange={({ detail }) => setSelected(detail.selectedItems[0] ?? null)}
        ariaLabels={{ selectionGroupLabel: "Users", itemSelectionLabel: (_, u) => `Select ${u.username}`, allItemsSelectionLabel: () => "Select all" }}
        columnDefinitions={[
          { id: "username", header: "User name", cell: (u) => u.username },
          { id: "name", header: "Display name", cell: (u) => u.display_name ?? "—" },
          { id: "admin", header: "PortalAdmin", cell: (u) => (u.is_portal_admin ? "yes" : "no") },
          { id: "state", header: "State", cell: (u) => <StatusIndicator type={u.disabled ? "stopped" : "success"}>{u.disabled ? "disabled" : "active"}</StatusIndicator> },
          { id: "created", header: "Created", cell: (u) => when(u.created_at) },
        ]}
      />
      {creating && <CreateUserDialog onClose={() => setCreating(false)} onCreated={() => { setCreating(false); void reload(); }} />}
    </>
  );
}

function AddMemberDialog({ users, members, onClose, onAdded }: { users: User[] | undefined; members: Member[]; onClose: () => void; onAdded: () => void }) {
  const { usecaseId } = usePortal();
  const [username, setUsername] = useState("");
  const [role, setRole] = useState<UseCaseRoleName>("Viewer");
  const { busy, failure, setFailure, run } = useSubmit();
  const taken = new Set(members.map((m) => m.username));
  const candidates = (users ?? []).filter((u) => !taken.has(u.username) && !u.disabled);
  const save = () => {
    if (!username.trim() || !usecaseId) return setFailure("Choose a user.");
    void run(async () => {
      await api.addMember(usecaseId, username.trim(), role);
      onAdded();
    });
  };
  return (
    <EditDialog header="Add team member" saveTestId="member-save" busy={busy} failure={failure} onSave={save} onClose={onClose}>
      <FormField label="User" description={users ? undefined : "Type the user name (only a PortalAdmin can list users)."}>
        {users ? (
          <Select
            selectedOption={username ? { value: username, label: username } : null}
            options={candidates.map((u) => ({ value: u.username, label: u.username, description: u.display_name ?? undefined }))}
            onChange={({ detail }) => setUsername(detail.selectedOption.value ?? "")}
            placeholder="Choose a user"
            empty="Every user is already in the team"
            filteringType="auto"
            ariaLabel="User"
            data-testid="member-user"
          />
        ) : (
          <Autosuggest value={username} options={[]} onChange={({ detail }) => setUsername(detail.value)} ariaLabel="User name" enteredTextLabel={(v) => `Use: ${v}`} />
        )}
      </FormField>
      <FormField label="Role">
        <Select selectedOption={{ value: role, label: role }} options={roleOptions} onChange={({ detail }) => setRole(detail.selectedOption.value as UseCaseRoleName)} ariaLabel="Role" data-testid="member-role" />
      </FormField>
    </EditDialog>
  );
}

function TeamTable({ users }: { users: User[] | undefined }) {
  const { me, usecases, usecaseId } = usePortal();
  const usecase = usecases.find((u) => u.id === usecaseId);
  const members = useLoader(() => (usecaseId ? api.listMembers(usecaseId) : Promise.resolve([])), [usecaseId]);
  const [selected, setSelected] = useState<Member | null>(null);
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState(false);
  const { busy, act } = usePageActions(members.reload);
  const mayManage = can(me, usecaseId, P.TEAM_MANAGE);
  const current = selected ? members.data?.find((m) => m.user_id === selected.user_id) ?? null : null;
  if (!usecase || !can(me, usecaseId, P.TEAM_VIEW)) return null;
  return (
    <>
      <Table
        header={
          <Header
            variant="h2"
            counter={members.data ? `(${members.data.length})` : undefined}
            description={`Who works on ${usecase.name}, and as what.`}
            actions={
              mayManage && (
                <SpaceBetween direction="horizontal" size="xs">
                  <Select
                    selectedOption={current ? { value: current.role, label: current.role } : null}
                    options={roleOptions}
                    disabled={!current || busy !== null}
                    placeholder="Change role"
                    ariaLabel="Change the role of the selected member"
                    onChange={({ detail }) =>
                      current && usecaseId && void act("Change role", () => api.changeMember(usecaseId, current.username, detail.selectedOption.value as UseCaseRoleName), `${current.username} is now ${detail.selectedOption.value}.`)
                    }
                  />
                  <Button disabled={!current} onClick={() => setRemoving(true)}>Remove</Button>
                  <Button variant="primary" onClick={() => setAdding(true)} data-testid="member-add">Add member</Button>
                </SpaceBetween>
              )
            }
          >
            Team of {usecase.name}
          </Header>
        }
        items={members.data ?? []}
        loading={members.loading}
        loadingText="Loading the team"
        trackBy="user_id"
        selectionType={mayManage ? "single" : undefined}
        selectedItems={current ? [current] : []}
        onSelectionChange={({ detail }) => setSelected(detail.selectedItems[0] ?? null)}
        ariaLabels={{ selectionGroupLabel: "Team members", itemSelectionLabel: (_, m) => `Select ${m.username}`, allItemsSelectionLabel: () => "Select all" }}
        empty={<EmptyState title="No members yet" />}
        columnDefinitions={[
          { id: "username", header: "User", cell: (m) => m.username },
          { id: "name", header: "Display name", cell: (m) => m.display_name ?? "—" },
          { id: "role", header: "Role", cell: (m) => m.role },
          { id: "since", header: "Member since", cell: (m) => when(m.since) },
        ]}
      />
      {adding && members.data && (
        <AddMemberDialog users={users} members={members.data} onClose={() => setAdding(false)} onAdded={() => { setAdding(false); void members.reload(); }} />
      )}
      <ConfirmDialog
        visible={removing}
        header="Remove team member"
        confirm="Remove"
        onCancel={() => setRemoving(false)}
        onConfirm={() => {
          setRemoving(false);
          if (current && usecaseId) void act("Remove", () => api.removeMember(usecaseId, current.username), `${current.username} removed.`);
        }}
      >
        Remove {current?.username} from {usecase.name}? They lose access to it at once.
      </ConfirmDialog>
    </>
  );
}

/** Users and roles: PortalAdmin's user management, and the current use case's team. */
export function TeamPage() {
  const { me } = usePortal();
  const isAdmin = canGlobal(me, P.USERS_MANAGE);
  const users = useLoader(() => (isAdmin ? api.listUsers() : Promise.resolve(undefined)), [isAdmin]);
  return (
    <SpaceBetween size="l">
      <Header variant="h1">Users and roles</Header>
      <TeamTable users={users.data} />
      {isAdmin && <UsersTable users={users.data} reload={users.reload} />}
    </SpaceBetween>
  );
}
