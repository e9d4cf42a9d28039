import { useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import FileInput from "@cloudscape-design/components/file-input";
import FormField from "@cloudscape-design/components/form-field";
import Input from "@cloudscape-design/components/input";
import Modal from "@cloudscape-design/components/modal";
import RadioGroup from "@cloudscape-design/components/radio-group";
import Select, { type SelectProps } from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { DialogFooter } from "../../components/Dialogs";
import { describeError } from "../../components/notify";
import { useLoader } from "../../hooks";
import { LabelsRejected, dataApi, type Dataset, type DatasetVersion, type LabelFormat, type Problem, type VersionSource } from "../api-data";
import { manifestPrefix, splitFractions } from "../data-format";

type SourceKind = VersionSource["kind"];
const FORMATS: { value: LabelFormat; label: string }[] = [
  { value: "gt", label: "Ground Truth output manifest" },
  { value: "dda", label: "DDA manifest" },
  { value: "coco", label: "COCO JSON" },
  { value: "yolo", label: "YOLO zip" },
];

/** Every folder of the use case's tree, breadth first (at most `max`). */
async function allFolders(usecaseId: string, max = 200): Promise<string[]> {
  const found: string[] = [];
  const queue = [""];
  while (queue.length && found.length < max) {
    const page = await dataApi.browse(usecaseId, queue.shift()!, undefined, 500);
    for (const f of page.folders) {
      found.push(f.path);
      queue.push(f.path);
    }
  }
  return found.sort();
}

/** The versions another version can be made from: labeling job outputs and existing versions. */
async function sourceVersions(usecaseId: string): Promise<{ jobs: SelectProps.Option[]; versions: SelectProps.Option[] }> {
  const [jobs, datasets] = await Promise.all([dataApi.labelingJobs(usecaseId).catch(() => []), dataApi.listDatasets(usecaseId)]);
  const lists = await Promise.all(datasets.map((d) => dataApi.listVersions(usecaseId, d.id).then((vs) => vs.map((v) => ({ d, v })))));
  return {
    jobs: jobs
      .filter((j) => j.output?.dataset_version_id)
      .map((j) => ({ value: String(j.output.dataset_version_id), label: j.name, description: `${j.task_type}, ${j.output.images ?? "?"} images` })),
    versions: lists.flat().map(({ d, v }) => ({ value: v.id, label: `${d.name} v${v.number}`, description: `${v.image_count} images, ${v.source}` })),
  };
}

function SplitFields({ pct, setPct, seed, setSeed }: { pct: [string, string, string]; setPct: (p: [string, string, string]) => void; seed: string; setSeed: (s: string) => void }) {
  const names = ["Train %", "Validation %", "Test %"];
  return (
    <SpaceBetween size="xs">
      <Box variant="h4">Split</Box>
      <Box variant="small">Each class is shuffled with the seed and cut by these percentages (they add up to 100).</Box>
      <SpaceBetween direction="horizontal" size="m">
        {names.map((name, i) => (
          <FormField key={name} label={name}>
            <Input type="number" value={pct[i]} data-testid={`split-${i}`}
              onChange={({ detail }) => setPct(pct.map((p, j) => (j === i ? detail.value : p)) as [string, string, string])} />
          </FormField>
        ))}
        <FormField label="Seed">
          <Input type="number" value={seed} onChange={({ detail }) => setSeed(detail.value)} />
        </FormField>
      </SpaceBetween>
    </SpaceBetween>
  );
}

export function Problems({ problems }: { problems: Problem[] }) {
  return (
    <ul data-testid="problems">
      {problems.slice(0, 20).map((p, i) => (
        <li key={i}>{p.line ? `line ${p.line}: ` : ""}{p.message}{p.fix ? ` — ${p.fix}` : ""}</li>
      ))}
    </ul>
  );
}

type Props = { usecaseId: string; datasets: Dataset[]; initialDataset?: string; initialSource?: SourceKind; onClose: () => void; onCreated: (v: DatasetVersion, datasetId: string) => void };

/** A new dataset version from a labels file, folders (one per class), a labeling job's output or another version. */
export function CreateVersionDialog({ usecaseId, datasets, initialDataset, initialSource = "labels", onClose, onCreated }: Props) {
  const [datasetId, setDatasetId] = useState(initialDataset ?? datasets[0]?.id ?? "");
  const [newName, setNewName] = useState("");
  const [kind, setKind] = useState<SourceKind>(initialSource);
  const [file, setFile] = useState<File | null>(null);
  const [prefix, setPrefix] = useState<string | null>(null);
  const [format, setFormat] = useState<LabelFormat>("gt");
  const [imagesFolder, setImagesFolder] = useState("");
  const [classes, setClasses] = useState([{ class_name: "normal", folder: "" }, { class_name: "anomaly", folder: "" }]);
  const [versionId, setVersionId] = useState("");
  const [pct, setPct] = useState<[string, string, string]>(["70", "15", "15"]);
  const [seed, setSeed] = useState("0");
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<{ text: string; problems: Problem[] } | null>(null);
  const folders = useLoader(() => allFolders(usecaseId), [usecaseId]);
  const sources = useLoader(() => sourceVersions(usecaseId), [usecaseId]);
  const folderOptions: SelectProps.Option[] = [{ value: "", label: "(top folder)" }, ...(folders.data ?? []).map((f) => ({ value: f, label: f }))];
  const folderOption = (value: string) => folderOptions.find((o) => o.value === value) ?? null;
  const datasetOptions: SelectProps.Option[] = [...datasets.map((d) => ({ value: d.id, label: d.name })), { value: "", label: "New dataset…" }];

  const chooseFile = async (files: File[]) => {
    const picked = files[0] ?? null;
    setFile(picked);
    setPrefix(null);
    if (!picked) return;
    if (/\.zip$/i.test(picked.name)) setFormat("yolo");
    else if (/\.json$/i.test(picked.name)) setFormat("coco");
    else setPrefix(manifestPrefix(await picked.slice(0, 4 * 1024 * 1024).text()));
  };
  const source = (): VersionSource | string => {
    if (kind === "labels") return file ? { kind, file, format, imagesFolder, maps: prefix ? { [prefix]: imagesFolder } : {} } : "Choose the labels file.";
    if (kind === "folders") return classes.every((c) => c.class_name.trim()) ? { kind, classes } : "Name every class.";
    return versionId ? { kind: "version", versionId } : "Pick the source.";
  };
  const save = async () => {
    const split = splitFractions(Number(pct[0]), Number(pct[1]), Number(pct[2]));
    const picked = source();
    if (!split) return setFailure({ text: "The split percentages must add up to 100.", problems: [] });
    if (typeof picked === "string") return setFailure({ text: picked, problems: [] });
    if (!datasetId && !newName.trim()) return setFailure({ text: "Pick a dataset or name a new one.", problems: [] });
    setBusy(true);
    setFailure(null);
    try {
      const target = datasetId || (await dataApi.createDataset(usecaseId, newName.trim())).id;
      setDatasetId(target);
      onCreated(await dataApi.createVersion(usecaseId, target, picked, { ...split, seed: Number(seed) || 0 }), target);
    } catch (e) {
      setFailure({ text: describeError(e), problems: e instanceof LabelsRejected ? e.report?.problems ?? [] : [] });
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal visible size="large" onDismiss={onClose} header="Create a dataset version"
      footer={<DialogFooter primary="Create version" onPrimary={() => void save()} onCancel={onClose} busy={busy} testId="version-save" />}>
      <SpaceBetween size="m">
        {failure && <Alert type="error" header="Not created">{failure.text}{failure.problems.length > 0 && <Problems problems={failure.problems} />}</Alert>}
        <ColumnLayout columns={2}>
          <FormField label="Dataset">
            <Select selectedOption={datasetOptions.find((o) => o.value === datasetId) ?? null} options={datasetOptions} ariaLabel="Dataset" data-testid="version-dataset"
              onChange={({ detail }) => setDatasetId(detail.selectedOption.value ?? "")} />
          </FormField>
          {!datasetId && (
            <FormField label="New dataset name">
              <Input value={newName} onChange={({ detail }) => setNewName(detail.value)} ariaLabel="New dataset name" data-testid="version-new-name" />
            </FormField>
          )}
        </ColumnLayout>
        <FormField label="Made from">
          <RadioGroup value={kind} onChange={({ detail }) => { setKind(detail.value as SourceKind); setVersionId(""); }} ariaLabel="Made from" items={[
            { value: "labels", label: "A labels file", description: "A Ground Truth or DDA manifest, COCO JSON or a YOLO zip, over images already uploaded" },
            { value: "folders", label: "Folders, one per class", description: "Image classification: every image in a folder gets its class" },
            { value: "version", label: "A labeling job's output or another version", description: "The same images and labels, split anew" },
          ]} />
        </FormField>
        {kind === "labels" && (
          <SpaceBetween size="s">
            <FormField label="Labels file">
              <FileInput value={file ? [file] : []} onChange={({ detail }) => void chooseFile(detail.value)} ariaLabel="Choose the labels file" data-testid="labels-input">Choose file</FileInput>
            </FormField>
            {file && <Box variant="small">{file.name}</Box>}
            <ColumnLayout columns={2}>
              <FormField label="Format">
                <Select selectedOption={FORMATS.find((f) => f.value === format) ?? null} options={FORMATS} ariaLabel="Labels format" onChange={({ detail }) => setFormat(detail.selectedOption.value as LabelFormat)} />
              </FormField>
              <FormField label="Images folder" description="Where you uploaded the images the labels name.">
                <Select selectedOption={folderOption(imagesFolder)} options={folderOptions} ariaLabel="Images folder" data-testid="labels-folder" statusType={folders.loading ? "loading" : "finished"}
                  onChange={({ detail }) => setImagesFolder(detail.selectedOption.value ?? "")} />
              </FormField>
            </ColumnLayout>
            {prefix && <Box variant="small" data-testid="labels-map">Images named under {prefix} are looked up in {imagesFolder || "the top folder"}.</Box>}
          </SpaceBetween>
        )}
        {kind === "folders" && (
          <SpaceBetween size="xs">
            {classes.map((c, i) => (
              <ColumnLayout key={i} columns={3}>
                <Input value={c.class_name} ariaLabel={`Class ${i + 1} name`} onChange={({ detail }) => setClasses(classes.map((x, j) => (j === i ? { ...x, class_name: detail.value } : x)))} />
                <Select selectedOption={folderOption(c.folder)} options={folderOptions} ariaLabel={`Class ${i + 1} folder`} data-testid={`class-folder-${i}`}
                  onChange={({ detail }) => setClasses(classes.map((x, j) => (j === i ? { ...x, folder: detail.selectedOption.value ?? "" } : x)))} />
                {classes.length > 2 ? <Button variant="link" onClick={() => setClasses(classes.filter((_, j) => j !== i))}>Remove</Button> : <span />}
              </ColumnLayout>
            ))}
            <Button onClick={() => setClasses([...classes, { class_name: "", folder: "" }])}>Add a class</Button>
            <Box variant="small">The first class is the normal one.</Box>
          </SpaceBetween>
        )}
        {kind === "version" && (
          <FormField label="Source">
            <Select
              selectedOption={[...(sources.data?.jobs ?? []), ...(sources.data?.versions ?? [])].find((o) => o.value === versionId) ?? null}
              options={[{ label: "Labeling job outputs", options: sources.data?.jobs ?? [] }, { label: "Dataset versions", options: sources.data?.versions ?? [] }]}
              statusType={sources.loading ? "loading" : "finished"} empty="No labeling output or version yet" ariaLabel="Source version"
              onChange={({ detail }) => setVersionId(detail.selectedOption.value ?? "")} />
          </FormField>
        )}
        <SplitFields pct={pct} setPct={setPct} seed={seed} setSeed={setSeed} />
      </SpaceBetween>
    </Modal>
  );
}
