import { useEffect, useRef, useState } from "react";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import ContentLayout from "@cloudscape-design/components/content-layout";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import SegmentedControl from "@cloudscape-design/components/segmented-control";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Grid from "@cloudscape-design/components/grid";
import Alert from "@cloudscape-design/components/alert";
import { api, type ImageKind, type InferenceResult, type Workflow } from "../api";
import { AuthImage } from "../components/AuthImage";
import { useNotify } from "../components/notify";
import { ScoreBar } from "../components/ScoreBar";
import { VerdictBadge, WorkflowStateIndicator } from "../components/Verdict";
import { counters, formatMs, formatNumber, formatPercent, formatTime, newest } from "../format";
import { navigate, useLoader } from "../hooks";

const POLL_MS = 1000;

async function latestStored(workflowId: number): Promise<InferenceResult | null> {
  const page = await api.listResults({ workflow_id: workflowId, limit: 1 });
  return page.items[0] ?? null;
}

function ResultFacts({ result }: { result: InferenceResult }) {
  const total = result.latency_ms ? (result.latency_ms.total ?? Object.values(result.latency_ms).reduce((a, b) => a + b, 0)) : null;
  return (
    <SpaceBetween size="l">
      <VerdictBadge result={result} size="large" />
      <KeyValuePairs
        columns={1}
        items={[
          { label: "Confidence", value: <Box variant="awsui-value-large" data-testid="confidence">{formatPercent(result.confidence)}</Box> },
          ...(result.label && result.label !== result.prediction ? [{ label: "Label", value: result.label }] : []),
          { label: "Anomaly score vs threshold", value: <ScoreBar score={result.anomaly_score} threshold={result.threshold} /> },
          { label: "Model", value: result.model_name ? `${result.model_name} v${result.model_version ?? "?"}` : "–" },
          { label: "Captured", value: formatTime(result.created_at) },
          { label: "End-to-end latency", value: formatMs(total) },
        ]}
      />
    </SpaceBetween>
  );
}

/** What the colours in the shown image mean. */
function ImageLegend({ kind, maskColors }: { kind: ImageKind; maskColors: Record<string, string> }) {
  if (kind === "input") return null;
  if (kind === "mask") {
    const entries = Object.entries(maskColors);
    return (
      <div className="legend" data-testid="mask-legend" aria-label="Mask colours">
        <span><span className="legend-swatch" style={{ background: "#ffffff" }} />background</span>
        {entries.length === 0 && <span>defect classes as coloured regions</span>}
        {entries.map(([name, color]) => (
          <span key={name}><span className="legend-swatch" style={{ background: color }} />{name}</span>
        ))}
      </div>
    );
  }
  return (
    <div className="legend" data-testid="mask-legend" aria-label="Overlay colours">
      <span><span className="legend-swatch" style={{ background: "#d91515" }} />defect pixels (tinted, outlined)</span>
      <span><span className="legend-swatch" style={{ background: "#037f0c" }} />border: normal</span>
      <span><span className="legend-swatch" style={{ background: "#d91515" }} />border: anomaly</span>
    </div>
  );
}

/** Good / defect / defect rate for the workflow since its results began. */
function Counters({ workflowId, latestId }: { workflowId: number; latestId?: number }) {
  const summary = useLoader(() => api.summary(workflowId), [workflowId, latestId], POLL_MS * 2);
  const { good, defect, rate } = counters(summary.data);
  return (
    <SpaceBetween direction="horizontal" size="xxl">
      <div>
        <Box variant="awsui-key-label">Good</Box>
        <div className="counter-value" data-testid="count-good" style={{ color: "#037f0c" }}>{good}</div>
      </div>
      <div>
        <Box variant="awsui-key-label">Defect</Box>
        <div className="counter-value" data-testid="count-defect" style={{ color: "#d91515" }}>{defect}</div>
      </div>
      <div>
        <Box variant="awsui-key-label">Defect rate</Box>
        <div className="counter-value" data-testid="count-rate">{rate}</div>
      </div>
    </SpaceBetween>
  );
}

/** The most recent anomaly stays on screen while normal parts go by. */
function LastAnomaly({ workflowId, latestId }: { workflowId: number; latestId?: number }) {
  const last = useLoader(
    async () => (await api.listResults({ workflow_id: workflowId, prediction: "anomaly", limit: 1 })).items[0] ?? null,
    [workflowId, latestId],
    POLL_MS * 2,
  );
  const anomaly = last.data;
  return (
    <Container header={<Header variant="h3">Last anomaly</Header>}>
      {anomaly ? (
        <SpaceBetween size="xs" direction="horizontal">
          {anomaly.image_urls?.overlay && (
            <img className="thumb" style={{ width: 120, height: 90 }} src={anomaly.image_urls.overlay} alt={`overlay of anomaly ${anomaly.id}`} data-testid="last-anomaly-image" />
          )}
          <SpaceBetween size="xxs">
            <VerdictBadge result={anomaly} />
            <Box fontSize="body-s">{formatTime(anomaly.created_at)}</Box>
            <Box fontSize="body-s">score {formatNumber(anomaly.anomaly_score)} / {formatNumber(anomaly.threshold)}</Box>
            <Button variant="inline-link" onClick={() => navigate(`/history?workflow=${encodeURIComponent(workflowId)}`)}>In history</Button>
          </SpaceBetween>
        </SpaceBetween>
      ) : (
        <Box color="text-body-secondary">No anomaly yet.</Box>
      )}
    </Container>
  );
}

function LiveResult({ workflow }: { workflow: Workflow }) {
  const notify = useNotify();
  const [kind, setKind] = useState<ImageKind>("overlay");
  const [busy, setBusy] = useState<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const [ran, setRan] = useState<InferenceResult | null>(null);
  // A failed run clears the verdict on screen: an old verdict must not pass for the current part.
  const [failure, setFailure] = useState<{ message: string; at: number } | null>(null);
  // The workflow list (polled by the page) carries last_result; the stored results are the fallback.
  const stored = useLoader(() => latestStored(workflow.id), [workflow.id], workflow.last_result ? undefined : POLL_MS);
  const models = useLoader(() => api.listModels(), []);
  const latest = newest([workflow.last_result, ran, stored.data ?? null]);
  const result = latest && failure && new Date(latest.created_at).getTime() <= failure.at ? null : latest;
  const model = (models.data ?? []).find((m) => result && m.name === result.model_name && m.version === result.model_version);

  const act = async (label: string, action: () => Promise<unknown>) => {
    setBusy(label);
    try {
      const outcome = await action();
      if (label.startsWith("Run") && outcome && typeof outcome === "object" && "prediction" in outcome) {
        setRan(outcome as InferenceResult);
        setFailure(null);
      }
    } catch (e) {
      if (label.startsWith("Run")) {
        setRan(null);
        setFailure({ message: e instanceof Error ? e.message : String(e), at: Date.now() });
      }
      notify.error(e, label.toLowerCase());
    } finally {
      setBusy(null);
    }
  };

  const running = workflow.state === "running";
  // A classification model stores no mask: fall back to the overlay.
  const shown: ImageKind = kind === "mask" && !result?.has_mask ? "overlay" : kind;
  return (
    <Grid gridDefinition={[{ colspan: { default: 12, s: 7, l: 8 } }, { colspan: { default: 12, s: 5, l: 4 } }]}>
      <SpaceBetween size="l">
        <Container
          header={
            <Header
              variant="h2"
              actions={
                <SegmentedControl
                  label="Image shown"
                  selectedId={kind}
                  onChange={({ detail }) => setKind(detail.selectedId as ImageKind)}
                  options={[
                    { id: "overlay", text: "Overlay" },
                    { id: "input", text: "Input" },
                    { id: "mask", text: "Mask", disabled: !result?.has_mask },
                  ]}
                />
              }
            >
              Latest image
            </Header>
          }
        >
          <div className="live-image">
            {result ? (
              <AuthImage
                load={() => api.resultImage(result.id, shown)}
                cacheKey={`${result.id}:${shown}`}
                alt={`${shown} image of result ${result.id}`}
                maxHeight={520}
                testId="live-image"
              />
            ) : (
              <Box color="inherit" textAlign="center" padding="xxl">
                <span style={{ color: "#d1d5db" }}>{failure ? "The last run failed: no image." : "No result yet. Press Run, or Start the workflow."}</span>
              </Box>
            )}
          </div>
          {result && <ImageLegend kind={shown} maskColors={model?.mask_colors ?? {}} />}
        </Container>
        <Container header={<Header variant="h3">Counters</Header>}>
          <Counters workflowId={workflow.id} latestId={latest?.id} />
        </Container>
      </SpaceBetween>
      <SpaceBetween size="l">
        <Container
          header={
            <Header
              variant="h2"
              description={<WorkflowStateIndicator state={workflow.state} error={workflow.error} />}
            >
              Verdict
            </Header>
          }
        >
          {failure && !result && (
            <Alert type="error" header="The last run failed" data-testid="live-failure">
              {failure.message}
            </Alert>
          )}
          {stored.error && !result && !failure && <Alert type="warning">Could not load results: {stored.error}</Alert>}
          {result ? <ResultFacts result={result} /> : !failure && <Box color="text-status-inactive">Waiting for the first result…</Box>}
        </Container>
        <Container header={<Header variant="h3">Control</Header>}>
          <SpaceBetween size="s" direction="horizontal">
            <Button variant="primary" loading={busy === "Run"} onClick={() => act("Run", () => api.runWorkflow(workflow.id))} data-testid="live-run">
              Run
            </Button>
            <Button loading={busy === "Run on file"} onClick={() => fileInput.current?.click()}>Run on image…</Button>
            {running ? (
              <Button loading={busy === "Stop"} onClick={() => act("Stop", () => api.stopWorkflow(workflow.id))}>Stop</Button>
            ) : (
              <Button loading={busy === "Start"} onClick={() => act("Start", () => api.startWorkflow(workflow.id))}>Start</Button>
            )}
            <Button variant="link" onClick={() => navigate(`/history?workflow=${encodeURIComponent(workflow.id)}`)}>History</Button>
          </SpaceBetween>
          <input
            ref={fileInput}
            type="file"
            accept="image/*"
            hidden
            aria-label="Image file to run the workflow on"
            data-testid="live-file"
            onChange={(e) => {
              const file = e.target.files?.[0];
              e.target.value = "";
              if (file) void act("Run on file", () => api.runWorkflow(workflow.id, file));
            }}
          />
        </Container>
        <LastAnomaly workflowId={workflow.id} latestId={latest?.id} />
      </SpaceBetween>
    </Grid>
  );
}

/** The operator's screen: the chosen workflow's latest image, verdict and scores, refreshed every second. */
export function LivePage({ initialWorkflow }: { initialWorkflow?: string }) {
  const workflows = useLoader(() => api.listWorkflows(), [], POLL_MS);
  const [selected, setSelected] = useState<string | undefined>(initialWorkflow ?? localStorage.getItem("dda.live.workflow") ?? undefined);
  const list = workflows.data ?? [];
  const current = list.find((w) => String(w.id) === selected) ?? list[0];

  // A link like #/live?workflow=3 picks the workflow, also when the page is already open.
  useEffect(() => {
    if (initialWorkflow) setSelected(initialWorkflow);
  }, [initialWorkflow]);
  useEffect(() => {
    if (current) localStorage.setItem("dda.live.workflow", String(current.id));
  }, [current]);

  const options = list.map((w) => ({ label: w.name, value: String(w.id), description: `${w.model_name} v${w.model_version}` }));
  return (
    <ContentLayout
      header={
        <Header
          variant="h1"
          description="The latest inspection of the chosen workflow, refreshed every second."
          actions={
            <FormField label="Workflow" stretch>
              <div style={{ minWidth: 260 }}>
                <Select
                  selectedOption={options.find((o) => o.value === String(current?.id)) ?? null}
                  options={options}
                  placeholder="Choose a workflow"
                  empty="No workflows yet"
                  onChange={({ detail }) => setSelected(detail.selectedOption.value)}
                  data-testid="live-workflow"
                />
              </div>
            </FormField>
          }
        >
          Live result
        </Header>
      }
    >
      {workflows.error && <Alert type="error">Could not load workflows: {workflows.error}</Alert>}
      {!workflows.loading && list.length === 0 && (
        <Container>
          <Box textAlign="center" padding="l">
            <SpaceBetween size="s">
              <Box variant="h3">No workflows yet</Box>
              <Box color="text-body-secondary">Add an image source and install a model, then create a workflow.</Box>
              <Button onClick={() => navigate("/workflows")}>Go to workflows</Button>
            </SpaceBetween>
          </Box>
        </Container>
      )}
      {current && <LiveResult key={current.id} workflow={current} />}
    </ContentLayout>
  );
}
