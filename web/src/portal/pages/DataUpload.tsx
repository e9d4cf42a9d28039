import { useEffect, useRef, useState } from "react";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import FileDropzone from "@cloudscape-design/components/file-dropzone";
import FileInput from "@cloudscape-design/components/file-input";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import ProgressBar from "@cloudscape-design/components/progress-bar";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { describeError } from "../../components/notify";
import { uploadFile } from "../api-data";
import { bytes, summarize } from "../data-format";

type Row = {
  key: number;
  file: File;
  sent: number;
  state: "queued" | "uploading" | "done" | "failed";
  outcome: string;
  error: string | null;
};

const PARALLEL = 3;
let nextKey = 0;

/** Many images (or zip/tar archives of images) into one folder, each with its own progress and error. */
export function UploadPanel({ usecaseId, folder, onLanded }: { usecaseId: string; folder: string; onLanded: () => void }) {
  const [target, setTarget] = useState(folder);
  useEffect(() => setTarget(folder), [folder]); // uploads go where the user browses, unless changed
  const [rows, setRows] = useState<Row[]>([]);
  const queue = useRef<Row[]>([]);
  const running = useRef(0);
  const update = (key: number, change: Partial<Row>) => setRows((all) => all.map((r) => (r.key === key ? { ...r, ...change } : r)));

  const pump = (dest: string) => {
    while (running.current < PARALLEL && queue.current.length) {
      const row = queue.current.shift()!;
      running.current += 1;
      update(row.key, { state: "uploading" });
      uploadFile(usecaseId, dest, row.file, (sent) => update(row.key, { sent }))
        .then((outcomes) => update(row.key, { state: "done", sent: row.file.size, ...summarize(outcomes) }))
        .catch((e: unknown) => update(row.key, { state: "failed", outcome: "failed", error: describeError(e) }))
        .finally(() => {
          running.current -= 1;
          if (!queue.current.length && running.current === 0) onLanded();
          pump(dest);
        });
    }
  };
  const add = (files: File[]) => {
    const fresh = files.map((file) => ({ key: (nextKey += 1), file, sent: 0, state: "queued" as const, outcome: "", error: null }));
    setRows((all) => [...fresh, ...all.filter((r) => r.state === "queued" || r.state === "uploading"), ...all.filter((r) => r.state === "done" || r.state === "failed")].slice(0, 500));
    queue.current.push(...fresh);
    pump(target.trim().replace(/^\/+|\/+$/g, ""));
  };
  const active = rows.filter((r) => r.state === "queued" || r.state === "uploading").length;
  return (
    <Container
      header={
        <Header variant="h2" description="Images (JPEG, PNG, BMP, TIFF, WebP) or zip/tar archives of them. Large files resume chunk by chunk." counter={active ? `(${active} uploading)` : undefined}
          actions={rows.length > 0 && active === 0 && <Button onClick={() => setRows([])}>Clear the list</Button>}>
          Upload images
        </Header>
      }
    >
      <SpaceBetween size="m">
        <FormField label="Into folder" description="A folder path such as cookies/normal; it is made when missing.">
          <Input value={target} onChange={({ detail }) => setTarget(detail.value)} ariaLabel="Upload into folder" data-testid="upload-folder" />
        </FormField>
        <FileDropzone onChange={({ detail }) => add(detail.value)}>
          <SpaceBetween size="xs" alignItems="center">
            <Box color="inherit">Drop images or archives here, or</Box>
            <FileInput multiple value={[]} onChange={({ detail }) => add(detail.value)} ariaLabel="Choose images to upload" data-testid="upload-input">
              Choose files
            </FileInput>
          </SpaceBetween>
        </FileDropzone>
        {rows.length > 0 && (
          // Focusable so that keyboard users can scroll a long list (axe: scrollable-region-focusable).
          <div className="upload-list" data-testid="upload-list" role="region" aria-label="Uploads" tabIndex={0}>
            <div role="list" className="upload-rows">
            {rows.map((r) => (
              <div role="listitem" key={r.key} data-testid="upload-row" data-state={r.state}>
                <ProgressBar
                  label={r.file.name}
                  value={r.file.size ? Math.min(100, Math.round((100 * r.sent) / r.file.size)) : 100}
                  description={bytes(r.file.size)}
                  status={r.state === "failed" || (r.state === "done" && r.error && r.outcome === "refused") ? "error" : r.state === "done" ? "success" : "in-progress"}
                  resultText={r.error ? `${r.outcome}: ${r.error}` : r.outcome}
                  additionalInfo={r.state === "done" && r.error && r.outcome !== "refused" ? r.error : undefined}
                />
              </div>
            ))}
            </div>
          </div>
        )}
      </SpaceBetween>
    </Container>
  );
}
