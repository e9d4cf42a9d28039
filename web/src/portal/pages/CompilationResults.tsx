import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { usePageActions } from "../../components/actions";
import { navigate } from "../../hooks";
import { ml, type CompilationResult, type ExportResult, type JobDetail, type PackagingResult } from "../api-ml";
import { shortNumber } from "../charts/curves";
import { shortHash } from "../charts/format-ml";
import { usePortal } from "../context";

function ParityCell({ passed }: { passed: boolean | undefined }) {
  if (passed === undefined) return <>—</>;
  return <StatusIndicator type={passed ? "success" : "error"}>{passed ? "passed" : "refused"}</StatusIndicator>;
}

function metricsText(metrics: Record<string, unknown> | undefined): string {
  return Object.entries(metrics ?? {})
    .filter(([, v]) => typeof v === "number" || typeof v === "boolean")
    .map(([k, v]) => `${k} ${typeof v === "number" ? shortNumber(v) : String(v)}`)
    .join(" · ") || "—";
}

/** The parity gate's verdict per export: passed or refused, on how many images, by what margins. */
export function ParityReport({ exports }: { exports: ExportResult[] }) {
  return (
    <Table
      variant="embedded"
      wrapLines
      data-testid="parity-report"
      items={exports}
      trackBy={(e) => `${e.target}-${e.precision}`}
      empty={<Box textAlign="center">No exports yet</Box>}
      columnDefinitions={[
        { id: "target", header: "Target", cell: (e) => e.target },
        { id: "precision", header: "Precision", cell: (e) => e.precision.toUpperCase() },
        { id: "gate", header: "Parity gate", cell: (e) => <ParityCell passed={e.refused ? false : e.parity.passed} /> },
        { id: "images", header: "Images", cell: (e) => e.parity.images ?? "—" },
        { id: "metrics", header: "Measured", cell: (e) => metricsText(e.parity.metrics) },
        { id: "failures", header: "Why refused", cell: (e) => (e.refused ? e.error : (e.parity.failures ?? []).join("; ")) || "—" },
      ]}
    />
  );
}

export function CompilationResultView({ job, mayWrite }: { job: JobDetail; mayWrite: boolean }) {
  const { usecaseId } = usePortal();
  const { busy, act } = usePageActions(async () => undefined);
  const result = job.result as Partial<CompilationResult>;
  const exports = [...(result.exports ?? []), ...(result.refused ?? [])];
  const packaged = job.chain.some((c) => c.type === "packaging");
  const mayPackage = mayWrite && job.status === "succeeded" && (result.exports?.length ?? 0) > 0 && !packaged && !job.pipeline;
  const pack = async () => {
    const next = await ml.createJob(usecaseId ?? "", "packaging", { model: result.model, exports: result.exports }, job.name);
    navigate(`/compilation/${next.id}`);
  };
  return (
    <Container
      header={
        <Header
          variant="h2"
          description="Each export is run next to the trained model on the same images; an export that drifts is refused."
          actions={mayPackage && <Button variant="primary" loading={busy === "Package"} onClick={() => void act("Package", pack, "Packaging queued")} data-testid="package-start">Package and sign</Button>}
        >
          Parity report
        </Header>
      }
    >
      <SpaceBetween size="s">
        <ParityReport exports={exports} />
        {(result.notes ?? []).map((n) => <Box key={n} color="text-status-inactive">{n}</Box>)}
      </SpaceBetween>
    </Container>
  );
}

export function PackagingResultView({ job, mayWrite }: { job: JobDetail; mayWrite: boolean }) {
  const { usecaseId } = usePortal();
  const { busy, act } = usePageActions(async () => undefined);
  const result = job.result as Partial<PackagingResult>;
  const packages = result.packages ?? [];
  const published = job.chain.some((c) => c.type === "publishing");
  const mayPublish = mayWrite && job.status === "succeeded" && packages.length > 0 && !published && !job.pipeline;
  const publish = async () => {
    const next = await ml.createJob(usecaseId ?? "", "publishing", { model: result.model, packages }, job.name);
    navigate(`/compilation/${next.id}`);
  };
  return (
    <Table
      data-testid="packages"
      header={
        <Header
          variant="h2"
          description="Signed with the use case's active key; stations verify the signature before installing."
          actions={mayPublish && <Button variant="primary" loading={busy === "Publish"} onClick={() => void act("Publish", publish, "Publishing queued")} data-testid="publish-start">Publish as components</Button>}
        >
          Packages
        </Header>
      }
      items={packages}
      trackBy="key"
      empty={<Box textAlign="center">No packages yet</Box>}
      columnDefinitions={[
        { id: "name", header: "Package", cell: (p) => p.name },
        { id: "version", header: "Version", cell: (p) => p.version },
        { id: "target", header: "Target", cell: (p) => `${p.target} ${p.precision.toUpperCase()}` },
        { id: "sha", header: "SHA-256", cell: (p) => <span title={p.sha256}>{shortHash(p.sha256)}</span> },
        { id: "key", header: "Signed with key", cell: (p) => <span title={p.signing_key}>{shortHash(p.signing_key, 16)}</span> },
      ]}
    />
  );
}

type Published = { id: string; name: string; version: string; platform: string };

export function PublishingResultView({ job }: { job: JobDetail }) {
  const components = (job.result.components as Published[] | undefined) ?? [];
  return (
    <Table
      data-testid="published"
      header={<Header variant="h2">Components published</Header>}
      items={components}
      trackBy="id"
      empty={<Box textAlign="center">None yet</Box>}
      columnDefinitions={[
        { id: "name", header: "Component", cell: (c) => <Link href={`#/components/${c.id}`}>{c.name}</Link> },
        { id: "version", header: "Version", cell: (c) => c.version },
        { id: "platform", header: "Platform", cell: (c) => c.platform },
      ]}
    />
  );
}
