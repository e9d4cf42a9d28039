import { useState } from "react";
import Button from "@cloudscape-design/components/button";
import Checkbox from "@cloudscape-design/components/checkbox";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Multiselect from "@cloudscape-design/components/multiselect";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Alert from "@cloudscape-design/components/alert";
import { useSubmit } from "../../components/actions";
import { navigate, useLoader } from "../../hooks";
import { INT8_TARGETS, TARGETS, datasetChoices, ml, versionChoices, type CompilationParams, type Job, type Precision, type Target } from "../api-ml";
import { usePortal } from "../context";
import { P, can } from "../permissions";
import { JobsTable } from "./JobsCommon";
import { NoUseCase } from "./NoUseCase";

const TARGET_HELP: Record<Target, string> = {
  "x86_64-cpu": "ONNX Runtime on a PC",
  "arm64-cpu": "ONNX Runtime on ARM boards",
  openvino: "Intel CPUs, iGPUs and VPUs",
  jetson: "NVIDIA Jetson (TensorRT)",
  "x86_64-cuda": "PC with an NVIDIA GPU",
};

function CompileForm({ usecaseId, initialVersion }: { usecaseId: string; initialVersion: string | null }) {
  const versions = useLoader(() => versionChoices(usecaseId), [usecaseId]);
  const datasets = useLoader(() => datasetChoices(usecaseId), [usecaseId]);
  const [versionId, setVersionId] = useState(initialVersion ?? "");
  const [targets, setTargets] = useState<Target[]>(["x86_64-cpu"]);
  const [int8, setInt8] = useState(false);
  const [calibration, setCalibration] = useState<string | null>(null);
  const { busy, failure, setFailure, run } = useSubmit();
  const version = versions.data?.find((v) => v.id === versionId);
  const trainedOn = (version?.lineage.dataset as { version_id?: string } | undefined)?.version_id ?? "";
  const calib = calibration ?? trainedOn;
  const versionOptions = (versions.data ?? []).map((v) => ({ value: v.id, label: `${v.model_name} v${v.version}`, description: `${v.stage} · ${v.model_type}` }));
  const datasetOptions = (datasets.data ?? []).map((d) => ({ value: d.id, label: d.label, description: d.description }));
  const int8Skipped = int8 ? targets.filter((t) => !INT8_TARGETS.includes(t)) : [];

  const submit = () => {
    if (!version) return setFailure("Choose a model version.");
    if (targets.length === 0) return setFailure("Choose at least one target.");
    if (int8 && !calib) return setFailure("INT8 needs calibration images: choose a dataset version.");
    const precisions: Precision[] = int8 ? ["fp32", "int8"] : ["fp32"];
    const params: CompilationParams = { model: { version_id: version.id, model_name: version.model_name }, targets, precisions };
    if (calib) params.calibration = { version_id: calib };
    void run(async () => {
      const job: Job = await ml.createJob(usecaseId, "compilation", params, `compile ${version.model_name} v${version.version}`);
      navigate(`/compilation/${job.id}`);
    });
  };

  return (
    <Container header={<Header variant="h2" description="Export a model version for the stations' hardware; each export must pass the parity gate.">Compile a model</Header>}>
      <Form
        errorText={failure ?? undefined}
        actions={<Button variant="primary" loading={busy} onClick={submit} data-testid="compile-start">Compile</Button>}
      >
        <SpaceBetween size="m">
          <ColumnLayout columns={2}>
            <FormField label="Model version">
              <Select
                selectedOption={versionOptions.find((o) => o.value === versionId) ?? null}
                options={versionOptions}
                onChange={({ detail }) => { setVersionId(detail.selectedOption.value ?? ""); setCalibration(null); }}
                placeholder="Choose a model version"
                empty="No models yet"
                statusType={versions.loading ? "loading" : "finished"}
                filteringType="auto"
                ariaLabel="Model version"
                data-testid="compile-version"
              />
            </FormField>
            <FormField label="Targets">
              <Multiselect
                selectedOptions={targets.map((t) => ({ value: t, label: t, description: TARGET_HELP[t] }))}
                options={TARGETS.map((t) => ({ value: t, label: t, description: TARGET_HELP[t] }))}
                onChange={({ detail }) => setTargets(detail.selectedOptions.map((o) => o.value as Target))}
                placeholder="Choose targets"
                ariaLabel="Targets"
                data-testid="compile-targets"
              />
            </FormField>
            <FormField label="Precision" description="FP32 always; INT8 is smaller and faster on CPUs, calibrated on real images.">
              <Checkbox checked={int8} onChange={({ detail }) => setInt8(detail.checked)} data-testid="compile-int8">Also INT8</Checkbox>
            </FormField>
            <FormField label="Calibration and parity images" description="A dataset version; by default the one the model was trained on.">
              <Select
                selectedOption={datasetOptions.find((o) => o.value === calib) ?? null}
                options={datasetOptions}
                onChange={({ detail }) => setCalibration(detail.selectedOption.value ?? "")}
                placeholder="Choose a dataset version"
                empty="No dataset versions yet"
                statusType={datasets.loading ? "loading" : "finished"}
                ariaLabel="Calibration dataset version"
                data-testid="compile-calibration"
              />
            </FormField>
          </ColumnLayout>
          {int8Skipped.length > 0 && <Alert type="info">INT8 is offered for {INT8_TARGETS.join(" and ")} only; {int8Skipped.join(", ")} get FP32.</Alert>}
        </SpaceBetween>
      </Form>
    </Container>
  );
}

/** Compile (with the parity report), package and sign, publish: the form and the jobs. */
export function CompilationPage({ initialVersion }: { initialVersion: string | null }) {
  const { me, usecaseId } = usePortal();
  const jobs = useLoader(
    async () => {
      if (!usecaseId) return [];
      const lists = await Promise.all((["compilation", "packaging", "publishing"] as const).map((type) => ml.listJobs(usecaseId, { type }, 1)));
      return lists.flat().sort((a, b) => b.created_at.localeCompare(a.created_at));
    },
    [usecaseId],
    3_000,
  );
  if (!usecaseId) return <NoUseCase />;
  return (
    <SpaceBetween size="l">
      <Header variant="h1" description="Model versions become signed packages for each station type, then components to deploy.">Compilation and packaging</Header>
      {can(me, usecaseId, P.TRAINING_WRITE) && <CompileForm usecaseId={usecaseId} initialVersion={initialVersion} />}
      <JobsTable
        testId="compilation-jobs"
        jobs={jobs.data ?? []}
        loading={jobs.loading && !jobs.data}
        empty="No compilation jobs yet"
        header={<Header variant="h2" counter={jobs.data ? `(${jobs.data.length})` : undefined}>Compilation, packaging and publishing jobs</Header>}
      />
    </SpaceBetween>
  );
}
