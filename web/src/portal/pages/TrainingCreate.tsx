import { useState } from "react";
import Checkbox from "@cloudscape-design/components/checkbox";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import FormField from "@cloudscape-design/components/form-field";
import Input from "@cloudscape-design/components/input";
import Multiselect from "@cloudscape-design/components/multiselect";
import Select from "@cloudscape-design/components/select";
import Toggle from "@cloudscape-design/components/toggle";
import { EditDialog } from "../../components/Dialogs";
import { useSubmit } from "../../components/actions";
import { useLoader } from "../../hooks";
import { TARGETS, datasetChoices, ml, type Job, type Target, type TrainingParams } from "../api-ml";
import { usePortal } from "../context";

const MODEL_TYPES = [
  { value: "classification", label: "Classification", description: "Good or defective, per image" },
  { value: "segmentation", label: "Segmentation", description: "Where the defect is, per pixel" },
  { value: "anomaly", label: "Anomaly detection", description: "Learns normal images only" },
];
const BACKBONES = ["mobilenet_v2", "resnet18", "resnet50", "wide_resnet50_2"].map((b) => ({ value: b, label: b }));
const EPOCHS = [2, 3, 5, 10, 20, 30, 50, 100].map((n) => ({ value: String(n), label: `${n} epochs` }));
const SIZES = [64, 128, 224, 256, 320, 384, 512].map((n) => ({ value: String(n), label: `${n} × ${n} px` }));
const BATCHES = [4, 8, 16, 32, 64].map((n) => ({ value: String(n), label: `${n} images` }));
const NAME = /^[a-z0-9][a-z0-9_-]{0,47}$/;

/** The training form: every choice from a dropdown (only the model's name is typed). */
export function TrainingCreateDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (job: Job) => void }) {
  const { usecases, usecaseId } = usePortal();
  const id = usecaseId ?? "";
  const defaults = usecases.find((u) => u.id === id)?.settings;
  const datasets = useLoader(() => datasetChoices(id), [id]);
  const [dataset, setDataset] = useState("");
  const [modelType, setModelType] = useState<string>(defaults?.default_model_type ?? "classification");
  const [name, setName] = useState("model");
  const [backbone, setBackbone] = useState("mobilenet_v2");
  const [epochs, setEpochs] = useState("10");
  const [size, setSize] = useState("224");
  const [batch, setBatch] = useState("16");
  const [pretrained, setPretrained] = useState(true);
  const [publish, setPublish] = useState(false);
  const [targets, setTargets] = useState<string[]>(["x86_64-cpu"]);
  const [int8, setInt8] = useState(false);
  const { busy, failure, setFailure, run } = useSubmit();
  const datasetOptions = (datasets.data ?? []).map((d) => ({ value: d.id, label: d.label, description: d.description }));
  const pick = (options: { value: string; label: string }[], value: string) => options.find((o) => o.value === value) ?? null;

  const save = () => {
    if (!dataset) return setFailure("Choose a dataset version.");
    if (!NAME.test(name)) return setFailure("Model name: lower-case letters, digits, - and _, starting with a letter or digit.");
    if (publish && targets.length === 0) return setFailure("Choose at least one target to compile for.");
    const parameters: TrainingParams = {
      dataset: { version_id: dataset },
      model_type: modelType as TrainingParams["model_type"],
      model_name: name,
      options: { backbone, pretrained, epochs: Number(epochs), input_size: [Number(size), Number(size)], batch_size: Number(batch) },
    };
    void run(async () => {
      const job = publish
        ? await ml.trainAndPublish(id, parameters, targets as Target[], int8 ? ["fp32", "int8"] : ["fp32"], `train ${name}`)
        : await ml.createJob(id, "training", parameters, `train ${name}`);
      onCreated(job);
    });
  };

  return (
    <EditDialog header="Start training" saveTestId="training-save" busy={busy} failure={failure} onSave={save} onClose={onClose}>
      <FormField label="Dataset version" description="A labeled, versioned dataset of this use case.">
        <Select
          selectedOption={pick(datasetOptions, dataset)}
          options={datasetOptions}
          onChange={({ detail }) => setDataset(detail.selectedOption.value ?? "")}
          placeholder="Choose a dataset version"
          empty="No dataset versions yet: build one on the Datasets page"
          statusType={datasets.loading ? "loading" : datasets.error ? "error" : "finished"}
          errorText={datasets.error ?? undefined}
          filteringType="auto"
          ariaLabel="Dataset version"
          data-testid="training-dataset"
        />
      </FormField>
      <ColumnLayout columns={2}>
        <FormField label="Model type">
          <Select selectedOption={pick(MODEL_TYPES, modelType)} options={MODEL_TYPES} onChange={({ detail }) => setModelType(detail.selectedOption.value ?? "classification")} ariaLabel="Model type" data-testid="training-type" />
        </FormField>
        <FormField label="Model name" description="Versions of the same name are kept together in the registry.">
          <Input value={name} onChange={({ detail }) => setName(detail.value.toLowerCase())} ariaLabel="Model name" data-testid="training-name" />
        </FormField>
        <FormField label="Backbone">
          <Select selectedOption={pick(BACKBONES, backbone)} options={BACKBONES} onChange={({ detail }) => setBackbone(detail.selectedOption.value ?? "mobilenet_v2")} ariaLabel="Backbone" data-testid="training-backbone" />
        </FormField>
        <FormField label="Epochs" description="Training stops early when validation stops improving.">
          <Select selectedOption={pick(EPOCHS, epochs)} options={EPOCHS} onChange={({ detail }) => setEpochs(detail.selectedOption.value ?? "10")} ariaLabel="Epochs" data-testid="training-epochs" />
        </FormField>
        <FormField label="Image size">
          <Select selectedOption={pick(SIZES, size)} options={SIZES} onChange={({ detail }) => setSize(detail.selectedOption.value ?? "224")} ariaLabel="Image size" data-testid="training-size" />
        </FormField>
        <FormField label="Batch size">
          <Select selectedOption={pick(BATCHES, batch)} options={BATCHES} onChange={({ detail }) => setBatch(detail.selectedOption.value ?? "16")} ariaLabel="Batch size" data-testid="training-batch" />
        </FormField>
      </ColumnLayout>
      <Toggle checked={pretrained} onChange={({ detail }) => setPretrained(detail.checked)} data-testid="training-pretrained">
        Start from ImageNet weights (needs them on the training machine)
      </Toggle>
      <Checkbox checked={publish} onChange={({ detail }) => setPublish(detail.checked)} data-testid="training-publish">
        Then compile, package and publish automatically
      </Checkbox>
      {publish && (
        <ColumnLayout columns={2}>
          <FormField label="Targets">
            <Multiselect
              selectedOptions={targets.map((t) => ({ value: t, label: t }))}
              options={TARGETS.map((t) => ({ value: t, label: t }))}
              onChange={({ detail }) => setTargets(detail.selectedOptions.map((o) => o.value ?? ""))}
              ariaLabel="Targets"
            />
          </FormField>
          <FormField label="Precision">
            <Checkbox checked={int8} onChange={({ detail }) => setInt8(detail.checked)}>Also INT8 (calibrated on the dataset)</Checkbox>
          </FormField>
        </ColumnLayout>
      )}
    </EditDialog>
  );
}
