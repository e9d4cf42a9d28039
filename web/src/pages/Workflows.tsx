import { useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import ContentLayout from "@cloudscape-design/components/content-layout";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Link from "@cloudscape-design/components/link";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import Tabs from "@cloudscape-design/components/tabs";
import { api, type ImageSource, type Model, type Plugins, type Workflow, type WorkflowInput } from "../api";
import { usePageActions, useSubmit } from "../components/actions";
import { ConfirmDialog, EditDialog } from "../components/Dialogs";
import { useNotify } from "../components/notify";
import { EmptyState } from "../components/PageTable";
import { PluginListEditor } from "../components/SchemaForm";
import { VerdictBadge, WorkflowStateIndicator } from "../components/Verdict";
import { describeConfigs, formatTime } from "../format";
import { navigate, useLoader } from "../hooks";
import { draftFromConfig, draftToConfig, type PluginDraft } from "../schema";

const POLL_MS = 2000;

type Editing = {
  id: number | null;
  name: string;
  sourceId: string;
  modelName: string;
  modelVersion: string;
  triggers: PluginDraft[];
  outputs: PluginDraft[];
};

function newEditing(plugins: Plugins, sources: ImageSource[], models: Model[], workflow?: Workflow): Editing {
  const manual = plugins.triggers.find((t) => t.type === "manual")?.type;
  return {
    id: workflow?.id ?? null,
    name: workflow?.name ?? "",
    sourceId: String(workflow?.source_id ?? sources[0]?.id ?? ""),
    modelName: workflow?.model_name ?? models[0]?.name ?? "",
    modelVersion: workflow?.model_version ?? models[0]?.version ?? "",
    triggers: workflow
      ? workflow.triggers.map((t) => draftFromConfig(plugins.triggers, t))
      : manual
        ? [draftFromConfig(plugins.triggers, { type: manual })]
        : [],
    outputs: (workflow?.outputs ?? []).map((o) => draftFromConfig(plugins.outputs, o)),
  };
}

type ModalProps = {
  plugins: Plugins;
  sources: ImageSource[];
  models: Model[];
  editing: Editing;
  onClose: () => void;
  onSaved: () => void;
};

function WorkflowModal({ plugins, sources, models, editing, onClose, onSaved }: ModalProps) {
  const notify = useNotify();
  const [state, setState] = useState(editing);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [triggerErrors, setTriggerErrors] = useState<Record<string, string>[]>([]);
  const [outputErrors, setOutputErrors] = useState<Record<string, string>[]>([]);
  const { busy, failure, run } = useSubmit();

  const modelNames = [...new Set(models.map((m) => m.name))];
  const versions = models.filter((m) => m.name === state.modelName).map((m) => m.version);
  const sourceOptions = sources.map((s) => ({ label: s.name, value: String(s.id), description: s.config.type }));
  const modelOptions = modelNames.map((n) => ({ label: n, value: n }));
  const versionOptions = versions.map((v) => ({ label: v, value: v }));

  const save = async () => {
    const triggers = state.triggers.map((d) => draftToConfig(plugins.triggers, d));
    const outputs = state.outputs.map((d) => draftToConfig(plugins.outputs, d));
    const own: Record<string, string> = {};
    if (!state.name.trim()) own.name = "Enter a name.";
    if (!state.sourceId) own.source = "Choose an image source (add one on the Image sources page).";
    if (!state.modelName) own.model = "Choose a model (install one on the Models page).";
    if (!state.modelVersion) own.version = "Choose the model version to pin.";
    setErrors(own);
    setTriggerErrors(triggers.map((t) => t.errors));
    setOutputErrors(outputs.map((o) => o.errors));
    const bad = Object.keys(own).length || [...triggers, ...outputs].some((x) => Object.keys(x.errors).length);
    if (bad) return;
    const body: WorkflowInput = {
      name: state.name.trim(),
      source_id: Number(state.sourceId),
      model_name: state.modelName,
      model_version: state.modelVersion,
      triggers: triggers.map((t) => t.config),
      outputs: outputs.map((o) => o.config),
    };
    await run(async () => {
      if (state.id) await api.updateWorkflow(state.id, body);
      else await api.createWorkflow(body);
      notify.success(`Workflow "${body.name}" saved.`);
      onSaved();
    });
  };

  return (
    <EditDialog header={state.id ? "Edit workflow" : "Create workflow"} saveTestId="workflow-save" busy={busy} failure={failure} onSave={() => void save()} onClose={onClose}>
      <FormField label="Name" errorText={errors.name} controlId="workflow-name">
        <Input controlId="workflow-name" value={state.name} placeholder="cookies-inspection" onChange={({ detail }) => setState({ ...state, name: detail.value })} />
      </FormField>
      <FormField label="Image source" errorText={errors.source} controlId="workflow-source">
        <Select
          controlId="workflow-source"
          selectedOption={sourceOptions.find((o) => o.value === state.sourceId) ?? null}
          options={sourceOptions}
          placeholder="Choose an image source"
          empty="No image sources yet"
          onChange={({ detail }) => setState({ ...state, sourceId: detail.selectedOption.value ?? "" })}
        />
      </FormField>
      <ColumnLayout columns={2}>
        <FormField label="Model" errorText={errors.model} controlId="workflow-model">
          <Select
            controlId="workflow-model"
            selectedOption={modelOptions.find((o) => o.value === state.modelName) ?? null}
            options={modelOptions}
            placeholder="Choose a model"
            empty="No models installed"
            onChange={({ detail }) => {
              const name = detail.selectedOption.value ?? "";
              const first = models.find((m) => m.name === name)?.version ?? "";
              setState({ ...state, modelName: name, modelVersion: first });
            }}
          />
        </FormField>
        <FormField label="Version" description="The workflow stays on this version until you change it." errorText={errors.version} controlId="workflow-version">
          <Select
            controlId="workflow-version"
            selectedOption={versionOptions.find((o) => o.value === state.modelVersion) ?? null}
            options={versionOptions}
            placeholder="Choose a version"
            onChange={({ detail }) => setState({ ...state, modelVersion: detail.selectedOption.value ?? "" })}
          />
        </FormField>
      </ColumnLayout>
      <Tabs
        tabs={[
          {
            id: "triggers",
            label: `Triggers (${state.triggers.length})`,
            content: (
              <PluginListEditor
                title="Trigger"
                addLabel="Add trigger"
                plugins={plugins.triggers}
                drafts={state.triggers}
                errors={triggerErrors}
                idPrefix="trigger"
                onChange={(triggers) => setState({ ...state, triggers })}
              />
            ),
          },
          {
            id: "outputs",
            label: `Outputs (${state.outputs.length})`,
            content: (
              <PluginListEditor
                title="Output"
                addLabel="Add output"
                plugins={plugins.outputs}
                drafts={state.outputs}
                errors={outputErrors}
                idPrefix="output"
                onChange={(outputs) => setState({ ...state, outputs })}
              />
            ),
          },
        ]}
      />
    </EditDialog>
  );
}

/** Workflows: source + pinned model + triggers + outputs; run once, start, stop. */
export function WorkflowsPage() {
  const plugins = useLoader(() => api.plugins(), []);
  const sources = useLoader(() => api.listSources(), []);
  const models = useLoader(() => api.listModels(), []);
  const workflows = useLoader(() => api.listWorkflows(), [], POLL_MS);
  const [selected, setSelected] = useState<Workflow[]>([]);
  const [editing, setEditing] = useState<Editing | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const { busy, act } = usePageActions(workflows.reload);
  const list = workflows.data ?? [];
  const current = list.find((w) => w.id === selected[0]?.id);
  const sourceNames = Object.fromEntries((sources.data ?? []).map((s) => [s.id, s.name]));

  const openEditor = (workflow?: Workflow) => {
    if (!plugins.data) return;
    void sources.reload();
    void models.reload();
    setEditing(newEditing(plugins.data, sources.data ?? [], models.data ?? [], workflow));
  };
  const error = plugins.error ?? sources.error ?? models.error ?? workflows.error;

  return (
    <ContentLayout header={<Header variant="h1" description="A workflow takes images from a source, runs a pinned model version on them, and sends the verdict to its outputs.">Workflows</Header>}>
      <SpaceBetween size="l">
        {error && <Alert type="error">{error}</Alert>}
        <Table
          items={list}
          loading={workflows.loading}
          loadingText="Loading workflows"
          selectionType="single"
          wrapLines
          ariaLabels={{ selectionGroupLabel: "Workflows", itemSelectionLabel: (_: unknown, w: Workflow) => `Select ${w.name}`, allItemsSelectionLabel: () => "Select all" }}
          selectedItems={current ? [current] : []}
          onSelectionChange={({ detail }) => setSelected(detail.selectedItems)}
          trackBy="id"
          variant="full-page"
          header={
            <Header
              counter={`(${list.length})`}
              actions={
                <SpaceBetween direction="horizontal" size="xs">
                  <Button disabled={!current} loading={busy === "Run"} onClick={() => current && void act("Run", () => api.runWorkflow(current.id), `Ran "${current.name}" once.`)}>
                    Run
                  </Button>
                  <Button disabled={!current || current.state === "running"} loading={busy === "Start"} onClick={() => current && void act("Start", () => api.startWorkflow(current.id), `Started "${current.name}".`)}>
                    Start
                  </Button>
                  <Button disabled={!current || current.state !== "running"} loading={busy === "Stop"} onClick={() => current && void act("Stop", () => api.stopWorkflow(current.id), `Stopped "${current.name}".`)}>
                    Stop
                  </Button>
                  <Button disabled={!current} onClick={() => openEditor(current)}>Edit</Button>
                  <Button disabled={!current} onClick={() => setConfirmDelete(true)}>Delete</Button>
                  <Button variant="primary" disabled={!plugins.data} onClick={() => openEditor()} data-testid="create-workflow">
                    Create workflow
                  </Button>
                </SpaceBetween>
              }
            >
              Workflows
            </Header>
          }
          columnDefinitions={[
            {
              id: "name",
              header: "Name",
              isRowHeader: true,
              cell: (w) => (
                <Link href={`#/live?workflow=${encodeURIComponent(w.id)}`} onFollow={(e) => { e.preventDefault(); navigate(`/live?workflow=${encodeURIComponent(w.id)}`); }}>
                  {w.name}
                </Link>
              ),
            },
            { id: "state", header: "State", cell: (w) => <WorkflowStateIndicator state={w.state} error={w.error} /> },
            { id: "source", header: "Image source", cell: (w) => sourceNames[w.source_id] ?? w.source_id },
            { id: "model", header: "Model", cell: (w) => `${w.model_name} v${w.model_version}` },
            { id: "triggers", header: "Triggers", cell: (w) => describeConfigs(w.triggers) },
            { id: "outputs", header: "Outputs", cell: (w) => describeConfigs(w.outputs) },
            { id: "last", header: "Last result", cell: (w) => (w.last_result ? <VerdictBadge result={w.last_result} /> : "–") },
            { id: "when", header: "At", cell: (w) => formatTime(w.last_result?.created_at) },
          ]}
          empty={<EmptyState title="No workflows" subtitle="Create one to start inspecting." />}
        />
      </SpaceBetween>
      {editing && plugins.data && (
        <WorkflowModal
          plugins={plugins.data}
          sources={sources.data ?? []}
          models={models.data ?? []}
          editing={editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            void workflows.reload();
          }}
        />
      )}
      <ConfirmDialog
        visible={confirmDelete}
        header="Delete workflow"
        onCancel={() => setConfirmDelete(false)}
        onConfirm={() => {
          setConfirmDelete(false);
          if (current) void act("Delete", () => api.deleteWorkflow(current.id), `Deleted "${current.name}".`).then((ok) => ok && setSelected([]));
        }}
      >
        Delete <b>{current?.name}</b>? Its stored results stay in History.
      </ConfirmDialog>
    </ContentLayout>
  );
}
