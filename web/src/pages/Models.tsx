import { useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ContentLayout from "@cloudscape-design/components/content-layout";
import FileUpload from "@cloudscape-design/components/file-upload";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Modal from "@cloudscape-design/components/modal";
import SegmentedControl from "@cloudscape-design/components/segmented-control";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { api, type Model } from "../api";
import { usePageActions, useSubmit } from "../components/actions";
import { ConfirmDialog, DialogFooter } from "../components/Dialogs";
import { useNotify } from "../components/notify";
import { EmptyState } from "../components/PageTable";
import { formatBytes, formatMetrics, formatNumber, formatTime } from "../format";
import { useLoader } from "../hooks";

function ModelStatus({ model }: { model: Model }) {
  const status = model.status || (model.loaded ? "loaded" : "installed");
  switch (status) {
    case "loaded":
    case "ready":
      return <StatusIndicator type="success">{status}</StatusIndicator>;
    case "loading":
      return <StatusIndicator type="in-progress">loading</StatusIndicator>;
    case "error":
    case "failed":
      return <StatusIndicator type="error">{status}</StatusIndicator>;
    default:
      return <StatusIndicator type="stopped">{status}</StatusIndicator>;
  }
}

function isLoaded(model: Model): boolean {
  return model.loaded || model.status === "loaded";
}

function InstallModal({ onClose, onInstalled }: { onClose: () => void; onInstalled: (m: Model) => void }) {
  const [mode, setMode] = useState<"file" | "url">("file");
  const [files, setFiles] = useState<File[]>([]);
  const [url, setUrl] = useState("");
  const { busy, failure, setFailure, run } = useSubmit();

  const install = async () => {
    if (mode === "file" && !files[0]) return setFailure("Choose a model package file (.zip or .tar.gz made by `dda package`).");
    if (mode === "url" && !/^https?:\/\//i.test(url.trim())) return setFailure("Enter an http(s) URL of a model package.");
    await run(async () => {
      const model = mode === "file" ? await api.installModelFile(files[0]) : await api.installModelUrl(url.trim());
      onInstalled(model);
    });
  };

  return (
    <Modal
      visible
      onDismiss={onClose}
      header="Install model package"
      footer={<DialogFooter primary="Install" onPrimary={() => void install()} onCancel={onClose} busy={busy} testId="model-install-submit" />}
    >
      <SpaceBetween size="m">
        <Box color="text-body-secondary">The station checks the package's signature and file hashes before it installs anything.</Box>
        <SegmentedControl
          selectedId={mode}
          onChange={({ detail }) => setMode(detail.selectedId as "file" | "url")}
          options={[
            { id: "file", text: "Upload file" },
            { id: "url", text: "From URL" },
          ]}
        />
        {mode === "file" ? (
          <FormField label="Package file" controlId="model-file">
            <FileUpload
              value={files}
              onChange={({ detail }) => setFiles(detail.value)}
              i18nStrings={{
                uploadButtonText: () => "Choose file",
                dropzoneText: () => "Drop a model package here",
                removeFileAriaLabel: (i) => `Remove file ${i + 1}`,
                limitShowFewer: "Show fewer",
                limitShowMore: "Show more",
                errorIconAriaLabel: "Error",
                warningIconAriaLabel: "Warning",
              }}
              showFileSize
              showFileLastModified
              constraintText="A package built with `dda package`."
            />
          </FormField>
        ) : (
          <FormField
            label="Package URL"
            controlId="model-url"
            description="A server on this machine or the factory network must be on the admin's outbound allow-list (Settings API); other local addresses are refused to protect the station."
          >
            <Input controlId="model-url" value={url} placeholder="https://…/model.tar.gz" onChange={({ detail }) => setUrl(detail.value)} />
          </FormField>
        )}
        {failure && <Alert type="error" header="Not installed">{failure}</Alert>}
      </SpaceBetween>
    </Modal>
  );
}

/** Installed model packages: install, load into memory, unload, delete. */
export function ModelsPage() {
  const notify = useNotify();
  const models = useLoader(() => api.listModels(), []);
  const [selected, setSelected] = useState<Model[]>([]);
  const [installing, setInstalling] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const { busy, act } = usePageActions(models.reload);
  const key = (m: Model) => `${m.name}@${m.version}`;
  const current = (models.data ?? []).find((m) => selected[0] && key(m) === key(selected[0]));

  return (
    <ContentLayout header={<Header variant="h1" description="Model packages trained and packaged with DDA. A workflow pins one version.">Models</Header>}>
      {models.error && <Alert type="error">{models.error}</Alert>}
      <Table
        items={models.data ?? []}
        loading={models.loading}
        loadingText="Loading models"
        selectionType="single"
          wrapLines
          ariaLabels={{ selectionGroupLabel: "Models", itemSelectionLabel: (_: unknown, m: Model) => `Select ${m.name} ${m.version}`, allItemsSelectionLabel: () => "Select all" }}
        selectedItems={current ? [current] : []}
        onSelectionChange={({ detail }) => setSelected(detail.selectedItems)}
        trackBy={key}
        variant="full-page"
        header={
          <Header
            counter={models.data ? `(${models.data.length})` : undefined}
            actions={
              <SpaceBetween direction="horizontal" size="xs">
                <Button iconName="refresh" ariaLabel="Refresh" onClick={() => void models.reload()} />
                <Button disabled={!current || isLoaded(current)} loading={busy === "Load"} onClick={() => current && void act("Load", () => api.loadModel(current.name, current.version), `Loaded ${key(current)}.`)}>
                  Load
                </Button>
                <Button disabled={!current || !isLoaded(current)} loading={busy === "Unload"} onClick={() => current && void act("Unload", () => api.unloadModel(current.name, current.version), `Unloaded ${key(current)}.`)}>
                  Unload
                </Button>
                <Button disabled={!current} onClick={() => setConfirmDelete(true)}>Delete</Button>
                <Button variant="primary" onClick={() => setInstalling(true)} data-testid="install-model">Install model</Button>
              </SpaceBetween>
            }
          >
            Models
          </Header>
        }
        columnDefinitions={[
          { id: "name", header: "Name", cell: (m) => m.name, isRowHeader: true },
          { id: "version", header: "Version", cell: (m) => m.version },
          { id: "type", header: "Type", cell: (m) => m.model_type },
          { id: "labels", header: "Labels", cell: (m) => [...m.labels, ...m.mask_labels.filter((l) => !m.labels.includes(l))].join(", ") || "–" },
          { id: "threshold", header: "Threshold", cell: (m) => formatNumber(m.threshold) },
          { id: "target", header: "Target", cell: (m) => `${m.target} · ${m.format} · ${m.precision ?? "FP32"}` },
          { id: "metrics", header: "Metrics", cell: (m) => formatMetrics(m.metrics) },
          { id: "pinned", header: "Used by", cell: (m) => (m.pinned_by.length ? m.pinned_by.join(", ") : "–") },
          { id: "status", header: "Status", cell: (m) => <ModelStatus model={m} /> },
          { id: "size", header: "Size", cell: (m) => formatBytes(m.size_bytes) },
          { id: "installed", header: "Installed", cell: (m) => formatTime(m.installed_at) },
        ]}
        empty={<EmptyState title="No models installed" subtitle="Install a package made with `dda package`." />}
      />
      {installing && (
        <InstallModal
          onClose={() => setInstalling(false)}
          onInstalled={(m) => {
            setInstalling(false);
            notify.success(`Installed ${m.name} v${m.version}.`);
            void models.reload();
          }}
        />
      )}
      <ConfirmDialog
        visible={confirmDelete}
        header="Delete model"
        onCancel={() => setConfirmDelete(false)}
        onConfirm={() => {
          setConfirmDelete(false);
          if (current) void act("Delete", () => api.deleteModel(current.name, current.version), `Deleted ${key(current)}.`).then((ok) => ok && setSelected([]));
        }}
      >
        Delete <b>{current ? key(current) : ""}</b>? Workflows pinned to it must move to another version first.
      </ConfirmDialog>
    </ContentLayout>
  );
}
