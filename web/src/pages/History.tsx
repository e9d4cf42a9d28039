import { useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Button from "@cloudscape-design/components/button";
import ContentLayout from "@cloudscape-design/components/content-layout";
import DateRangePicker, { type DateRangePickerProps } from "@cloudscape-design/components/date-range-picker";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Pagination from "@cloudscape-design/components/pagination";
import Select, { type SelectProps } from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import Icon from "@cloudscape-design/components/icon";
import Toggle from "@cloudscape-design/components/toggle";
import { api, type InferenceResult, type ResultFilter } from "../api";
import { useNotify } from "../components/notify";
import { EmptyState } from "../components/PageTable";
import { VerdictBadge } from "../components/Verdict";
import { formatNumber, formatPercent, formatTime } from "../format";
import { useLoader } from "../hooks";
import { rangeToFilter } from "../range";
import { ResultDetail } from "./ResultDetail";

const PAGE_SIZE = 25;
const REFRESH_MS = 5000;
const ANY: SelectProps.Option = { label: "Any", value: "" };

const RELATIVE_OPTIONS: DateRangePickerProps.RelativeOption[] = [
  { key: "1h", amount: 1, unit: "hour", type: "relative" },
  { key: "24h", amount: 24, unit: "hour", type: "relative" },
  { key: "7d", amount: 7, unit: "day", type: "relative" },
  { key: "30d", amount: 30, unit: "day", type: "relative" },
];

function download(blob: Blob, filename: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Stored results: filter, page through, inspect, review, export for relabelling. */
export function HistoryPage({ initialWorkflow }: { initialWorkflow?: string }) {
  const notify = useNotify();
  const workflows = useLoader(() => api.listWorkflows(), []);
  const [workflowId, setWorkflowId] = useState(initialWorkflow ?? "");
  useEffect(() => {
    if (initialWorkflow) setWorkflowId(initialWorkflow);
  }, [initialWorkflow]);
  const [prediction, setPrediction] = useState("");
  const [flagged, setFlagged] = useState("");
  const [range, setRange] = useState<DateRangePickerProps.Value | null>(null);
  const [page, setPage] = useState(1);
  const [open, setOpen] = useState<InferenceResult | null>(null);
  const [exporting, setExporting] = useState(false);
  const [autoRefresh, setAutoRefresh] = useState(true);

  const filter: ResultFilter = {
    workflow_id: workflowId ? Number(workflowId) : undefined,
    prediction: prediction === "normal" || prediction === "anomaly" ? prediction : undefined,
    flagged: flagged === "" ? undefined : flagged === "yes",
    ...rangeToFilter(range, new Date()),
  };
  const filterKey = JSON.stringify([workflowId, prediction, flagged, range]);
  useEffect(() => setPage(1), [filterKey]);
  const results = useLoader(
    () => api.listResults({ ...filter, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE }),
    [filterKey, page],
    autoRefresh && page === 1 ? REFRESH_MS : undefined,
  );
  const total = results.data?.total ?? 0;
  const workflowNames = Object.fromEntries((workflows.data ?? []).map((w) => [w.id, w.name]));

  const workflowOptions = [ANY, ...(workflows.data ?? []).map((w) => ({ label: w.name, value: String(w.id) }))];
  const predictionOptions = [ANY, { label: "Normal", value: "normal" }, { label: "Anomaly", value: "anomaly" }];
  const flaggedOptions = [ANY, { label: "Flagged for review", value: "yes" }, { label: "Not flagged", value: "no" }];

  const exportZip = async () => {
    setExporting(true);
    try {
      const blob = await api.exportResults(filter);
      download(blob, `dda-results-${new Date().toISOString().replace(/[:.]/g, "-")}.zip`);
      notify.success("Export downloaded.");
    } catch (e) {
      notify.error(e, "export");
    } finally {
      setExporting(false);
    }
  };

  return (
    <ContentLayout header={<Header variant="h1" description="Every stored inspection. Review doubtful ones and export them to relabel and retrain.">History</Header>}>
      <SpaceBetween size="l">
        {results.error && <Alert type="error">Could not load results: {results.error}</Alert>}
        <Table
          items={results.data?.items ?? []}
          loading={results.loading}
          loadingText="Loading results"
          trackBy="id"
          variant="full-page"
          wrapLines
          onRowClick={({ detail }) => setOpen(detail.item)}
          header={
            <Header
              counter={`(${total})`}
              actions={
                <SpaceBetween direction="horizontal" size="xs" alignItems="center">
                  <Toggle checked={autoRefresh} onChange={({ detail }) => setAutoRefresh(detail.checked)} data-testid="history-auto-refresh">
                    Auto-refresh
                  </Toggle>
                  <Button iconName="refresh" ariaLabel="Refresh" onClick={() => void results.reload()} />
                  <Button iconName="download" loading={exporting} disabled={total === 0} onClick={() => void exportZip()}>
                    Export zip
                  </Button>
                </SpaceBetween>
              }
            >
              Results
            </Header>
          }
          filter={
            <SpaceBetween direction="horizontal" size="s">
              <FormField label="Workflow">
                <Select selectedOption={workflowOptions.find((o) => o.value === workflowId) ?? ANY} options={workflowOptions} onChange={({ detail }) => setWorkflowId(detail.selectedOption.value ?? "")} />
              </FormField>
              <FormField label="Prediction">
                <Select selectedOption={predictionOptions.find((o) => o.value === prediction) ?? ANY} options={predictionOptions} onChange={({ detail }) => setPrediction(detail.selectedOption.value ?? "")} />
              </FormField>
              <FormField label="Review">
                <Select selectedOption={flaggedOptions.find((o) => o.value === flagged) ?? ANY} options={flaggedOptions} onChange={({ detail }) => setFlagged(detail.selectedOption.value ?? "")} />
              </FormField>
              <FormField label="Time range">
                <DateRangePicker
                  value={range}
                  onChange={({ detail }) => setRange(detail.value)}
                  relativeOptions={RELATIVE_OPTIONS}
                  isValidRange={(r) => {
                    if (r?.type === "absolute" && r.startDate && r.endDate && new Date(r.startDate) > new Date(r.endDate)) {
                      return { valid: false, errorMessage: "The start must be before the end." };
                    }
                    return { valid: true };
                  }}
                  placeholder="Any time"
                  rangeSelectorMode="default"
                  i18nStrings={{ clearButtonLabel: "Clear", applyButtonLabel: "Apply", cancelButtonLabel: "Cancel" }}
                />
              </FormField>
            </SpaceBetween>
          }
          pagination={
            <Pagination
              currentPageIndex={page}
              pagesCount={Math.max(1, Math.ceil(total / PAGE_SIZE))}
              onChange={({ detail }) => setPage(detail.currentPageIndex)}
            />
          }
          columnDefinitions={[
            {
              id: "image",
              header: "Image",
              cell: (r) =>
                r.image_urls?.overlay ? (
                  <img className="thumb" src={r.image_urls.overlay} alt={`overlay of result ${r.id}`} loading="lazy" data-testid="history-thumb" />
                ) : (
                  "–"
                ),
            },
            { id: "time", header: "Time", cell: (r) => <span style={{ whiteSpace: "nowrap" }}>{formatTime(r.created_at)}</span>, isRowHeader: true },
            { id: "workflow", header: "Workflow", cell: (r) => (r.workflow_id !== null ? workflowNames[r.workflow_id] ?? r.workflow_name ?? String(r.workflow_id) : r.workflow_name || "–") },
            { id: "verdict", header: "Verdict", cell: (r) => <VerdictBadge result={r} /> },
            { id: "confidence", header: "Confidence", cell: (r) => formatPercent(r.confidence) },
            { id: "score", header: "Score / threshold", cell: (r) => `${formatNumber(r.anomaly_score)} / ${formatNumber(r.threshold)}` },
            { id: "model", header: "Model", cell: (r) => (r.model_name ? `${r.model_name} v${r.model_version}` : "–") },
            { id: "flag", header: "Review", cell: (r) => (r.flag_for_review ? <span title="flagged for review"><Icon name="flag" variant="warning" /> flagged</span> : r.note ? "noted" : "") },
            { id: "open", header: "", cell: (r) => <Button variant="inline-link" onClick={() => setOpen(r)}>Details</Button> },
          ]}
          empty={<EmptyState title="No results" subtitle="Run a workflow, or widen the filters." />}
        />
      </SpaceBetween>
      {open && (
        <ResultDetail
          result={open}
          workflowName={(open.workflow_id !== null ? workflowNames[open.workflow_id] : undefined) ?? open.workflow_name}
          onClose={() => setOpen(null)}
          onSaved={() => {
            setOpen(null);
            notify.success("Review saved.");
            void results.reload();
          }}
        />
      )}
    </ContentLayout>
  );
}
