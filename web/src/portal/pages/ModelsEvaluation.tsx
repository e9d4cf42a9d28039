import { useState } from "react";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import { EditDialog } from "../../components/Dialogs";
import { useSubmit } from "../../components/actions";
import { navigate, useLoader } from "../../hooks";
import { datasetChoices, ml, type JobDetail, type RegistryVersion } from "../api-ml";
import { ConfusionMatrix } from "../charts/ConfusionMatrix";
import { CurveChart } from "../charts/CurveChart";
import { pairedSeries, shortNumber } from "../charts/curves";
import { metricRows } from "../charts/format-ml";
import { asMatrix } from "../charts/matrix";

type EvalResult = {
  metrics?: { image?: Record<string, unknown> } & Record<string, unknown>;
  roc?: { fpr?: (number | null)[]; tpr?: (number | null)[] };
  pr?: { precision?: (number | null)[]; recall?: (number | null)[] };
  worst_images?: { image: string; label: number; score: number; correct: boolean }[];
};

export const BINARY_LABELS = ["normal", "defective"];

/** An evaluation's metrics, confusion matrix, ROC and PR curves and the images it got most wrong. */
export function EvaluationResultView({ job }: { job: JobDetail }) {
  const result = job.result as EvalResult;
  const image = result.metrics?.image ?? {};
  const matrix = asMatrix(image.confusion_matrix);
  const rows = metricRows(image).filter(([k]) => !k.startsWith("confusion"));
  return (
    <Container header={<Header variant="h2">Evaluation</Header>}>
      <SpaceBetween size="l">
        <KeyValuePairs columns={4} items={rows.slice(0, 12).map(([label, value]) => ({ label, value }))} />
        {matrix && <ConfusionMatrix matrix={matrix} labels={BINARY_LABELS} />}
        <ColumnLayout columns={2}>
          <CurveChart
            series={[pairedSeries("roc", "ROC", result.roc?.fpr, result.roc?.tpr)]}
            title="ROC curve"
            xTitle="False positive rate"
            yTitle="True positive rate"
            xDomain={[0, 1]}
            yDomain={[0, 1]}
            testId="roc-chart"
          />
          <CurveChart
            series={[pairedSeries("pr", "Precision-recall", result.pr?.recall, result.pr?.precision)]}
            title="Precision-recall curve"
            xTitle="Recall"
            yTitle="Precision"
            xDomain={[0, 1]}
            yDomain={[0, 1]}
            testId="pr-chart"
          />
        </ColumnLayout>
        {(result.worst_images?.length ?? 0) > 0 && (
          <Table
            variant="embedded"
            header={<Header variant="h3">Images it got most wrong</Header>}
            items={result.worst_images ?? []}
            trackBy="image"
            columnDefinitions={[
              { id: "image", header: "Image", cell: (w) => w.image },
              { id: "label", header: "Truth", cell: (w) => BINARY_LABELS[w.label] ?? String(w.label) },
              { id: "score", header: "Score", cell: (w) => shortNumber(w.score) },
              { id: "correct", header: "Verdict", cell: (w) => (w.correct ? "right" : "wrong") },
            ]}
          />
        )}
      </SpaceBetween>
    </Container>
  );
}

/** Evaluate a model version on a dataset version (an evaluation job). */
export function EvaluateDialog({ usecaseId, version, onClose }: { usecaseId: string; version: RegistryVersion; onClose: () => void }) {
  const datasets = useLoader(() => datasetChoices(usecaseId), [usecaseId]);
  const [datasetId, setDatasetId] = useState("");
  const { busy, failure, setFailure, run } = useSubmit();
  const options = (datasets.data ?? []).map((d) => ({ value: d.id, label: d.label, description: d.description }));
  const save = () => {
    if (!datasetId) return setFailure("Choose a dataset version.");
    void run(async () => {
      const job = await ml.createJob(
        usecaseId,
        "evaluation",
        { model: { version_id: version.id, model_name: version.model_name }, dataset: { version_id: datasetId } },
        `evaluate ${version.model_name} v${version.version}`,
      );
      navigate(`/training/${job.id}`);
    });
  };
  return (
    <EditDialog header={`Evaluate ${version.model_name} v${version.version}`} saveTestId="evaluate-save" busy={busy} failure={failure} onSave={save} onClose={onClose}>
      <FormField label="Dataset version" description="The images to measure the model on.">
        <Select
          selectedOption={options.find((o) => o.value === datasetId) ?? null}
          options={options}
          onChange={({ detail }) => setDatasetId(detail.selectedOption.value ?? "")}
          placeholder="Choose a dataset version"
          empty="No dataset versions yet"
          statusType={datasets.loading ? "loading" : "finished"}
          ariaLabel="Dataset version"
          data-testid="evaluate-dataset"
        />
      </FormField>
    </EditDialog>
  );
}
