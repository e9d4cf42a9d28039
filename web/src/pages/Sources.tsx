import { useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import ContentLayout from "@cloudscape-design/components/content-layout";
import ExpandableSection from "@cloudscape-design/components/expandable-section";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Modal from "@cloudscape-design/components/modal";
import Spinner from "@cloudscape-design/components/spinner";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import AttributeEditor from "@cloudscape-design/components/attribute-editor";
import Select from "@cloudscape-design/components/select";
import { api, type Capture, type ImageSource, type ImageSourceInput, type PipelineStep, type PluginInfo } from "../api";
import { AuthImage } from "../components/AuthImage";
import { useSubmit } from "../components/actions";
import { ConfirmDialog, EditDialog } from "../components/Dialogs";
import { useNotify } from "../components/notify";
import { EmptyState } from "../components/PageTable";
import { PluginEditor } from "../components/SchemaForm";
import { formatTime } from "../format";
import { useLoader } from "../hooks";
import { draftFromConfig, draftToConfig, type PluginDraft } from "../schema";
import { cameraErrors, cameraFromForm, cameraToForm, describeCamera, type CameraForm } from "../camera";

type Editing = { id: number | null; name: string; draft: PluginDraft; camera: CameraForm };

function newEditing(plugins: PluginInfo[], source?: ImageSource): Editing {
  const fallback = plugins.find((p) => p.type === "synthetic")?.type ?? plugins[0]?.type ?? "";
  return {
    id: source?.id ?? null,
    name: source?.name ?? "",
    draft: draftFromConfig(plugins, source?.config, fallback),
    camera: cameraToForm(source?.camera),
  };
}

const STEP_OPTIONS = [
  { label: "Rotate", value: "rotate" },
  { label: "Flip", value: "flip" },
  { label: "Grayscale", value: "grayscale" },
];
const ROTATE_OPTIONS = [90, 180, 270].map((d) => ({ label: `${d}° clockwise`, value: String(d) }));
const FLIP_OPTIONS = [
  { label: "Horizontal (mirror)", value: "horizontal" },
  { label: "Vertical (upside down)", value: "vertical" },
];

function newStep(op: string): PipelineStep {
  if (op === "rotate") return { op: "rotate", degrees: 180 };
  if (op === "flip") return { op: "flip", axis: "horizontal" };
  return { op: "grayscale" };
}

function StepParam({ step, onChange }: { step: PipelineStep; onChange: (s: PipelineStep) => void }) {
  if (step.op === "rotate") {
    return (
      <Select
        selectedOption={ROTATE_OPTIONS.find((o) => o.value === String(step.degrees)) ?? null}
        options={ROTATE_OPTIONS}
        onChange={({ detail }) => onChange({ op: "rotate", degrees: Number(detail.selectedOption.value) as 90 | 180 | 270 })}
      />
    );
  }
  if (step.op === "flip") {
    return (
      <Select
        selectedOption={FLIP_OPTIONS.find((o) => o.value === step.axis) ?? null}
        options={FLIP_OPTIONS}
        onChange={({ detail }) => onChange({ op: "flip", axis: detail.selectedOption.value as "horizontal" | "vertical" })}
      />
    );
  }
  return <Box color="text-body-secondary" padding={{ top: "xs" }}>No settings</Box>;
}

function PipelineEditor({ steps, error, onChange }: { steps: PipelineStep[]; error?: string; onChange: (s: PipelineStep[]) => void }) {
  return (
    <FormField
      label="Processing pipeline"
      description="Applied to every frame after the ROI crop, in this order, before inference."
      errorText={error}
      stretch
    >
      <AttributeEditor
        items={steps}
        addButtonText="Add step"
        removeButtonText="Remove"
        empty="No processing steps."
        onAddButtonClick={() => onChange([...steps, newStep("rotate")])}
        onRemoveButtonClick={({ detail }) => onChange(steps.filter((_, i) => i !== detail.itemIndex))}
        definition={[
          {
            label: "Step",
            control: (step, index) => (
              <Select
                selectedOption={STEP_OPTIONS.find((o) => o.value === step.op) ?? null}
                options={STEP_OPTIONS}
                onChange={({ detail }) => onChange(steps.map((s, i) => (i === index ? newStep(detail.selectedOption.value ?? "") : s)))}
              />
            ),
          },
          {
            label: "Setting",
            control: (step, index) => <StepParam step={step} onChange={(next) => onChange(steps.map((s, i) => (i === index ? next : s)))} />,
          },
        ]}
      />
    </FormField>
  );
}

function CameraFields({ value, errors, onChange }: { value: CameraForm; errors: Record<string, string>; onChange: (v: CameraForm) => void }) {
  const field = (key: Exclude<keyof CameraForm, "pipeline">, label: string, description?: string, placeholder = "source default") => (
    <FormField label={label} description={description} errorText={errors[key]} controlId={`camera-${key}`}>
      <Input
        controlId={`camera-${key}`}
        type="number"
        value={value[key]}
        placeholder={placeholder}
        onChange={({ detail }) => onChange({ ...value, [key]: detail.value })}
      />
    </FormField>
  );
  return (
    <SpaceBetween size="m">
      <ColumnLayout columns={2}>
        {field("exposure_us", "Exposure (µs)", "Set in hardware on cameras that support it.")}
        {field("gain", "Gain (dB)", "Hardware gain; simulated on the synthetic camera.")}
      </ColumnLayout>
      <FormField label="Region of interest" description="Crop to the part of the image the model should see (pixels). Leave empty for the full image." stretch>
        <ColumnLayout columns={4}>
          {field("roi_x", "X", undefined, "0")}
          {field("roi_y", "Y", undefined, "0")}
          {field("roi_width", "Width", undefined, "full")}
          {field("roi_height", "Height", undefined, "full")}
        </ColumnLayout>
      </FormField>
      <PipelineEditor steps={value.pipeline} error={errors.pipeline} onChange={(pipeline) => onChange({ ...value, pipeline })} />
    </SpaceBetween>
  );
}

function SourceModal({ plugins, editing, onClose, onSaved }: { plugins: PluginInfo[]; editing: Editing; onClose: () => void; onSaved: () => void }) {
  const [state, setState] = useState(editing);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [camErrors, setCamErrors] = useState<Record<string, string>>({});
  const { busy, failure, run } = useSubmit();
  const notify = useNotify();

  const save = async () => {
    const { config, errors: configErrors } = draftToConfig(plugins, state.draft);
    const cameraProblems = cameraErrors(state.camera);
    const nameError: Record<string, string> = state.name.trim() ? {} : { name: "Enter a name." };
    setErrors({ ...configErrors, ...nameError });
    setCamErrors(cameraProblems);
    if (Object.keys(configErrors).length || Object.keys(cameraProblems).length || !state.name.trim()) return;
    const body: ImageSourceInput = { name: state.name.trim(), config, camera: cameraFromForm(state.camera) };
    await run(async () => {
      if (state.id) await api.updateSource(state.id, body);
      else await api.createSource(body);
      notify.success(`Image source "${body.name}" saved.`);
      onSaved();
    });
  };

  return (
    <EditDialog header={state.id ? `Edit image source` : "Add image source"} saveTestId="source-save" busy={busy} failure={failure} onSave={() => void save()} onClose={onClose}>
      <FormField label="Name" errorText={errors.name} controlId="source-name">
        <Input controlId="source-name" value={state.name} onChange={({ detail }) => setState({ ...state, name: detail.value })} placeholder="line-1-camera" />
      </FormField>
      <PluginEditor
        plugins={plugins}
        draft={state.draft}
        errors={errors}
        idPrefix="source"
        typeLabel="Source type"
        onChange={(draft) => setState({ ...state, draft })}
      />
      <ExpandableSection headerText="Camera settings" variant="footer" defaultExpanded={Boolean(state.id)}>
        <CameraFields value={state.camera} errors={camErrors} onChange={(camera) => setState({ ...state, camera })} />
      </ExpandableSection>
    </EditDialog>
  );
}

function CaptureModal({ source, capture, onClose }: { source: ImageSource; capture: Capture; onClose: () => void }) {
  return (
    <Modal
      visible
      size="large"
      onDismiss={onClose}
      header={`Captured from ${source.name}`}
      footer={<Box float="right"><Button variant="primary" onClick={onClose}>Close</Button></Box>}
    >
      <SpaceBetween size="s">
        <Box color="text-body-secondary">
          Stored as capture {capture.id} ({capture.width}×{capture.height}, {formatTime(capture.created_at)}). No inference runs on a
          plain capture; run a workflow to inspect.
        </Box>
        <div className="live-image">
          <AuthImage load={() => api.captureImage(capture.image_url)} cacheKey={capture.id} alt={`capture ${capture.id}`} maxHeight={520} />
        </div>
      </SpaceBetween>
    </Modal>
  );
}

function PreviewModal({ source, onClose }: { source: ImageSource; onClose: () => void }) {
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const grab = async () => {
    setBusy(true);
    setError(null);
    try {
      const blob = await api.previewSource(source.id);
      setUrl((old) => {
        if (old) URL.revokeObjectURL(old);
        return URL.createObjectURL(blob);
      });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  // Take the first preview as the dialog opens.
  useEffect(() => {
    void grab();
  }, []);
  const close = () => {
    if (url) URL.revokeObjectURL(url);
    onClose();
  };
  return (
    <Modal
      visible
      size="large"
      onDismiss={close}
      header={`Preview: ${source.name}`}
      footer={
        <Box float="right">
          <SpaceBetween direction="horizontal" size="xs">
            <Button onClick={() => void grab()} loading={busy} iconName="refresh">{url ? "Refresh" : "Take preview"}</Button>
            <Button variant="primary" onClick={close}>Close</Button>
          </SpaceBetween>
        </Box>
      }
    >
      <SpaceBetween size="s">
        <Box color="text-body-secondary">A preview grabs one frame with the camera settings applied; it is not stored or inspected.</Box>
        {error && <Alert type="error" header="No preview">{error}</Alert>}
        <div className="live-image">
          {url ? <img src={url} alt={`preview from ${source.name}`} data-testid="source-preview" style={{ maxWidth: "100%", maxHeight: 520 }} /> : busy ? <Spinner size="large" /> : <span style={{ color: "#d1d5db" }}>No preview yet.</span>}
        </div>
      </SpaceBetween>
    </Modal>
  );
}

/** Image sources: cameras, folders, uploads and the synthetic demo camera. */
export function SourcesPage() {
  const notify = useNotify();
  const plugins = useLoader(() => api.plugins(), []);
  const sources = useLoader(() => api.listSources(), []);
  const [selected, setSelected] = useState<ImageSource[]>([]);
  const [editing, setEditing] = useState<Editing | null>(null);
  const [previewing, setPreviewing] = useState<ImageSource | null>(null);
  const [captured, setCaptured] = useState<{ source: ImageSource; capture: Capture } | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [busy, setBusy] = useState(false);
  const sourcePlugins = plugins.data?.sources ?? [];
  const current = selected[0];
  const titles = Object.fromEntries(sourcePlugins.map((p) => [p.type, p.title || p.type]));

  const capture = async () => {
    if (!current) return;
    setBusy(true);
    try {
      const capture = await api.captureSource(current.id);
      setCaptured({ source: current, capture });
    } catch (e) {
      notify.error(e, "capture");
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    if (!current) return;
    try {
      await api.deleteSource(current.id);
      notify.success(`Image source "${current.name}" deleted.`);
      setSelected([]);
      await sources.reload();
    } catch (e) {
      notify.error(e, "delete the image source");
    } finally {
      setConfirmDelete(false);
    }
  };

  return (
    <ContentLayout header={<Header variant="h1" description="Where workflows get their images: cameras, folders, uploads, or the synthetic demo camera.">Image sources</Header>}>
      <SpaceBetween size="l">
        {(plugins.error || sources.error) && <Alert type="error">{plugins.error ?? sources.error}</Alert>}
        <Table
          items={sources.data ?? []}
          loading={sources.loading}
          loadingText="Loading image sources"
          selectionType="single"
          wrapLines
          ariaLabels={{ selectionGroupLabel: "Image sources", itemSelectionLabel: (_: unknown, s: ImageSource) => `Select ${s.name}`, allItemsSelectionLabel: () => "Select all" }}
          selectedItems={selected}
          onSelectionChange={({ detail }) => setSelected(detail.selectedItems)}
          trackBy="id"
          variant="full-page"
          header={
            <Header
              counter={sources.data ? `(${sources.data.length})` : undefined}
              actions={
                <SpaceBetween direction="horizontal" size="xs">
                  <Button iconName="refresh" ariaLabel="Refresh" onClick={() => void sources.reload()} />
                  <Button disabled={!current} onClick={() => current && setPreviewing(current)}>Preview</Button>
                  <Button disabled={!current} loading={busy} onClick={() => void capture()}>Capture</Button>
                  <Button disabled={!current} onClick={() => current && setEditing(newEditing(sourcePlugins, current))}>Edit</Button>
                  <Button disabled={!current} onClick={() => setConfirmDelete(true)}>Delete</Button>
                  <Button variant="primary" disabled={!sourcePlugins.length} onClick={() => setEditing(newEditing(sourcePlugins))} data-testid="add-source">
                    Add image source
                  </Button>
                </SpaceBetween>
              }
            >
              Image sources
            </Header>
          }
          columnDefinitions={[
            { id: "name", header: "Name", cell: (s) => s.name, isRowHeader: true },
            { id: "type", header: "Type", cell: (s) => titles[s.config.type] ?? s.config.type },
            { id: "camera", header: "Camera settings", cell: (s) => describeCamera(s.camera) },
            { id: "updated", header: "Updated", cell: (s) => formatTime(s.updated_at ?? s.created_at) },
          ]}
          empty={<EmptyState title="No image sources" subtitle="Add a camera, a folder, or the synthetic demo camera." />}
        />
        {sourcePlugins.length > 0 && (
          <Container header={<Header variant="h3">Available source types</Header>}>
            <ColumnLayout columns={3} variant="text-grid">
              {sourcePlugins.map((p) => (
                <div key={p.type}>
                  <Box variant="awsui-key-label">{p.title || p.type}</Box>
                  <Box color="text-body-secondary">{p.description ?? (typeof p.schema.description === "string" ? p.schema.description : p.type)}</Box>
                </div>
              ))}
            </ColumnLayout>
          </Container>
        )}
      </SpaceBetween>
      {editing && (
        <SourceModal
          plugins={sourcePlugins}
          editing={editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            void sources.reload();
          }}
        />
      )}
      {previewing && <PreviewModal source={previewing} onClose={() => setPreviewing(null)} />}
      {captured && <CaptureModal {...captured} onClose={() => setCaptured(null)} />}
      <ConfirmDialog visible={confirmDelete} header="Delete image source" onCancel={() => setConfirmDelete(false)} onConfirm={() => void remove()}>
        Delete <b>{current?.name}</b>? Workflows that use it must be changed or deleted first.
      </ConfirmDialog>
    </ContentLayout>
  );
}
