// The labeling tool page: the canvas (labeling/editor.ts) and its side panel. Label mode claims
// the caller's next image, autosaves drafts (debounced) and submits; review mode shows a submitted
// image read-only with Accept / Send back (with a comment the labeler then sees).
import { useCallback, useEffect, useRef, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import FormField from "@cloudscape-design/components/form-field";
import Grid from "@cloudscape-design/components/grid";
import Header from "@cloudscape-design/components/header";
import SegmentedControl from "@cloudscape-design/components/segmented-control";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Textarea from "@cloudscape-design/components/textarea";
import { describeError, useNotify } from "../../components/notify";
import { navigate, useLoader } from "../../hooks";
import { EDITABLE, labelingApi, type LabelingJob, type LabelingTask } from "../api-labeling";
import { usePortal } from "../context";
import { annotationOf, colorOf, debounce, docFrom, keyAction, toolsFor, type KeyAction, type Tool } from "../labeling/doc";
import { Editor } from "../labeling/editor";
import { TaskStatusBadge } from "./LabelingJob";

type Mode = "label" | "review";
type SaveState = "idle" | "pending" | "saving" | "saved" | "error";
const AUTOSAVE_MS = 700;
const TOOL_NAMES: Record<Tool, string> = { select: "Select (V)", box: "Box (B)", polygon: "Polygon (G)", brush: "Brush (R)", eraser: "Eraser (E)" };

export function LabelingToolPage({ jobId, mode }: { jobId: string; mode: Mode }) {
  const { usecaseId } = usePortal();
  const job = useLoader(() => labelingApi.getJob(usecaseId ?? "", jobId), [usecaseId, jobId]);
  if (job.error) return <StatusIndicator type="error">{job.error}</StatusIndicator>;
  if (!job.data || !usecaseId) return <StatusIndicator type="loading">Loading the labeling job</StatusIndicator>;
  return <Workspace job={job.data} uc={usecaseId} mode={mode} />;
}

/** Loads a task's image into a fresh Editor on `host`; the editor lives as long as the task. */
function useEditor(task: LabelingTask | null | undefined, job: LabelingJob, readOnly: boolean, onChange: () => void) {
  const hostRef = useRef<HTMLDivElement>(null);
  const [editor, setEditor] = useState<Editor | null>(null);
  const [error, setError] = useState<string | null>(null);
  const changeRef = useRef(onChange);
  changeRef.current = onChange;
  useEffect(() => {
    const host = hostRef.current;
    if (!task || !host) return;
    let live = true;
    let made: Editor | null = null;
    void (async () => {
      try {
        const bitmap = await createImageBitmap(await labelingApi.image(task.image_url));
        if (!live) return bitmap.close();
        made = new Editor(host, bitmap, { taskType: job.task_type, labels: job.labels, readOnly, onChange: () => changeRef.current() });
        made.load(docFrom(task.annotation));
        if (task.annotation.mask_png) await made.loadMaskPng(task.annotation.mask_png);
        const label = task.annotation.label ? job.labels.indexOf(task.annotation.label) : 0;
        made.labelIndex = Math.max(0, label);
        if (live) setEditor(made);
      } catch (e) {
        if (live) setError(describeError(e));
      }
    })();
    const resize = new ResizeObserver(() => made?.resize());
    resize.observe(host);
    return () => {
      live = false;
      resize.disconnect();
      made?.destroy();
      setEditor(null);
    };
  }, [task?.id, task?.status, job, readOnly]);
  return { hostRef, editor, error };
}

function Workspace({ job, uc, mode }: { job: LabelingJob; uc: string; mode: Mode }) {
  const notify = useNotify();
  const [task, setTask] = useState<LabelingTask | null | undefined>(undefined);
  const [mine, setMine] = useState<LabelingTask[]>([]);
  const [saveState, setSaveState] = useState<SaveState>("idle");
  const [, setTick] = useState(0);
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState(false);
  const editable = mode === "label" && !!task && EDITABLE.includes(task.status);
  const saverRef = useRef<ReturnType<typeof debounce> | null>(null);
  const savingRef = useRef<Promise<void>>(Promise.resolve());
  const { hostRef, editor, error } = useEditor(task, job, !editable, () => {
    setTick((n) => n + 1);
    if (editable) {
      setSaveState("pending");
      saverRef.current?.call();
    }
  });

  const saveDraft = useCallback(async () => {
    if (!editor || !task || !editable) return;
    const body = annotationOf(job.task_type, editor.doc, await editor.maskPngBase64());
    if (!body) return setSaveState("idle");
    setSaveState("saving");
    try {
      await labelingApi.saveDraft(uc, job.id, task.id, body);
      setSaveState("saved");
    } catch (e) {
      setSaveState("error");
      notify.error(e, "save the draft");
    }
  }, [editor, task, editable, job, uc, notify]);

  useEffect(() => {
    const saver = debounce(() => { savingRef.current = saveDraft(); }, AUTOSAVE_MS);
    saverRef.current = saver;
    return () => saver.cancel();
  }, [saveDraft]);

  /** Any pending autosave, written now (before the tool leaves the image). */
  const flushSave = async () => {
    saverRef.current?.flush();
    await savingRef.current;
  };

  const refreshMine = useCallback(async () => {
    if (mode === "label") setMine(await labelingApi.tasks(uc, job.id, { mine: true }));
  }, [mode, uc, job.id]);

  const claim = useCallback(async () => {
    try {
      const next = mode === "label" ? await labelingApi.claimNext(uc, job.id) : await labelingApi.reviewNext(uc, job.id);
      await refreshMine(); // first: the image shows with its place in the list, ready for N / P
      setTask(next);
      setSaveState("idle");
      setComment("");
    } catch (e) {
      notify.error(e, mode === "label" ? "get the next image" : "get the next submission");
      setTask(null);
    }
  }, [mode, uc, job.id, refreshMine, notify]);

  useEffect(() => { void claim(); }, [claim]);

  const run = async (work: () => Promise<void>) => {
    if (busy) return;
    setBusy(true);
    try {
      await work();
    } catch (e) {
      notify.error(e);
    } finally {
      setBusy(false);
    }
  };

  const submit = () => run(async () => {
    if (!editor || !task || !editable) return;
    saverRef.current?.cancel();
    await savingRef.current;
    const body = annotationOf(job.task_type, editor.doc, await editor.maskPngBase64());
    if (!body) throw new Error("Choose a label first (keys 1-9).");
    await labelingApi.submit(uc, job.id, task.id, body);
    notify.success(`Image ${task.position + 1} submitted.`);
    await claim();
  });

  const skip = () => run(async () => {
    if (!task || !editable) return;
    saverRef.current?.cancel();
    await labelingApi.skip(uc, job.id, task.id);
    await claim();
  });

  const review = (accept: boolean) => run(async () => {
    if (!task) return;
    if (!accept && !comment.trim()) throw new Error("Say what to fix: the labeler sees this comment.");
    await labelingApi.review(uc, job.id, task.id, accept, comment.trim());
    notify.success(accept ? `Image ${task.position + 1} accepted.` : `Image ${task.position + 1} sent back.`);
    await claim();
  });

  const step = (delta: 1 | -1) => run(async () => {
    if (mode !== "label") return;
    await flushSave();
    const list = await labelingApi.tasks(uc, job.id, { mine: true });
    setMine(list);
    const at = list.findIndex((t) => t.id === task?.id);
    const target = list[at + delta];
    if (target) return setTask(target);
    if (delta === 1) await claim();
  });

  useKeyActions(editor, (action) => {
    if (action.kind === "submit") {
      if (editor?.drawingPolygon) editor.closePolygon();
      else if (mode === "label") void submit();
      else void review(true);
    } else if (action.kind === "next") void step(1);
    else if (action.kind === "previous") void step(-1);
  });

  if (task === undefined) return <StatusIndicator type="loading">Finding your next image</StatusIndicator>;
  const index = mine.findIndex((t) => t.id === task?.id);
  return (
    <SpaceBetween size="m">
      <Header
        variant="h1"
        description={mode === "label" ? "Draw, then Enter to submit. N / P: next / previous image." : "Check the labels, then accept or send back."}
        actions={<Button onClick={() => navigate(`/labeling/${job.id}`)}>Back to the job</Button>}
      >
        {mode === "label" ? "Label" : "Review"}: {job.name}
      </Header>
      {task === null ? (
        <Alert type="success" header={mode === "label" ? "No image left for you" : "Nothing to review"}>
          {mode === "label" ? "Every image of this job is claimed or done. Thank you!" : "No submission waits for your review right now."}
        </Alert>
      ) : (
        <Grid gridDefinition={[{ colspan: { default: 12, m: 9 } }, { colspan: { default: 12, m: 3 } }]}>
          <SpaceBetween size="xs">
            {task.status === "sent_back" && task.comment && (
              <Alert type="warning" header="Sent back by the reviewer" data-testid="review-comment-shown">{task.comment}</Alert>
            )}
            {mode === "label" && hasPrelabel(task) && <Alert type="info">Model pre-labels loaded: edit them as needed.</Alert>}
            {error && <Alert type="error" header="Could not load the image">{error}</Alert>}
            <div ref={hostRef} className="dda-label-host" style={{ position: "relative", height: "68vh", minHeight: 360, background: "#232f3e", overflow: "hidden", cursor: "crosshair" }} />
          </SpaceBetween>
          <SidePanel
            job={job} task={task} editor={editor} mode={mode} editable={editable} busy={busy}
            position={index >= 0 ? `${index + 1} of ${mine.length} of yours` : `image ${task.position + 1}`}
            saveState={saveState} comment={comment} setComment={setComment}
            onSubmit={() => void submit()} onSkip={() => void skip()} onReview={(a) => void review(a)}
            onStep={(d) => void step(d)}
          />
        </Grid>
      )}
    </SpaceBetween>
  );
}

function hasPrelabel(task: LabelingTask): boolean {
  return Object.keys(task.prelabel ?? {}).length > 0 && JSON.stringify(task.prelabel) === JSON.stringify(task.annotation);
}

/** Window key handling: the editor's own shortcuts here, page actions through `page`. */
function useKeyActions(editor: Editor | null, page: (action: KeyAction) => void): void {
  const pageRef = useRef(page);
  pageRef.current = page;
  useEffect(() => {
    const typing = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      return !!t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable);
    };
    const down = (e: KeyboardEvent) => {
      if (typing(e)) return;
      if (e.key === " ") {
        if (editor) editor.spaceHeld = true;
        e.preventDefault();
        return;
      }
      const action = keyAction(e);
      if (!action) return;
      if (action.kind === "submit" && (e.target as HTMLElement | null)?.tagName === "BUTTON") return; // Enter on a button presses it
      e.preventDefault();
      if (action.kind === "label") editor?.setLabel(action.index);
      else if (action.kind === "undo") editor?.undo();
      else if (action.kind === "redo") editor?.redo();
      else if (action.kind === "delete") editor?.deleteSelected();
      else if (action.kind === "cancel") editor?.cancel();
      else if (action.kind === "tool") editor?.setTool(action.tool);
      else pageRef.current(action);
    };
    const up = (e: KeyboardEvent) => {
      if (e.key === " " && editor) editor.spaceHeld = false;
    };
    window.addEventListener("keydown", down);
    window.addEventListener("keyup", up);
    return () => {
      window.removeEventListener("keydown", down);
      window.removeEventListener("keyup", up);
    };
  }, [editor]);
}

type PanelProps = {
  job: LabelingJob;
  task: LabelingTask;
  editor: Editor | null;
  mode: Mode;
  editable: boolean;
  busy: boolean;
  position: string;
  saveState: SaveState;
  comment: string;
  setComment: (value: string) => void;
  onSubmit: () => void;
  onSkip: () => void;
  onReview: (accept: boolean) => void;
  onStep: (delta: 1 | -1) => void;
};

const SAVE_TEXT: Record<SaveState, [string, "success" | "in-progress" | "pending" | "error" | "stopped"]> = {
  idle: ["No changes", "stopped"],
  pending: ["Unsaved changes", "pending"],
  saving: ["Saving the draft", "in-progress"],
  saved: ["Draft saved", "success"],
  error: ["Draft not saved", "error"],
};

/** What the image holds so far, in words. */
function summary(job: LabelingJob, editor: Editor): string {
  const count = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "es".slice(one.endsWith("x") ? 0 : 1)}`;
  switch (job.task_type) {
    case "classification":
      return editor.doc.label ? `Label: ${editor.doc.label}` : "No label yet";
    case "bounding_box":
      return count(editor.doc.boxes.length, "box");
    case "polygon":
      return count(editor.doc.polygons.length, "polygon");
    case "mask":
      return editor.mask && !editor.mask.isEmpty() ? "Mask painted" : "Mask empty";
  }
}

function SidePanel(p: PanelProps) {
  const { job, editor } = p;
  const tools = toolsFor(job.task_type);
  const chosen = job.task_type === "classification" ? editor?.doc.label : job.labels[editor?.labelIndex ?? 0];
  return (
    <Container header={<Header variant="h2" description={p.position}>Image {p.task.position + 1}</Header>}>
      <SpaceBetween size="m">
        <SpaceBetween direction="horizontal" size="xs">
          <TaskStatusBadge status={p.task.status} />
          {p.editable && <span data-testid="draft-status" data-state={p.saveState}><StatusIndicator type={SAVE_TEXT[p.saveState][1]}>{SAVE_TEXT[p.saveState][0]}</StatusIndicator></span>}
        </SpaceBetween>
        <Box data-testid="label-summary">{editor ? summary(job, editor) : "Loading the image"}</Box>
        <FormField label={job.task_type === "classification" ? "Label of the image" : "Label to draw"}>
          <div role="group" aria-label="Labels" style={{ display: "flex", flexWrap: "wrap", gap: 6 }}>
            {job.labels.map((label, i) => (
              <Button key={label} variant={label === chosen ? "primary" : "normal"} disabled={!editor || (!p.editable && job.task_type === "classification")}
                onClick={() => editor?.setLabel(i)} ariaLabel={`${label} (key ${i + 1})`} data-testid={`label-${i + 1}`}>
                <span aria-hidden="true" style={{ display: "inline-block", width: 10, height: 10, borderRadius: 5, background: colorOf(i), marginRight: 6 }} />
                {i < 9 ? `${i + 1} ` : ""}{label}
              </Button>
            ))}
          </div>
        </FormField>
        {tools.length > 0 && p.editable && editor && (
          <FormField label="Tool">
            <SegmentedControl selectedId={editor.tool} onChange={({ detail }) => editor.setTool(detail.selectedId as Tool)}
              label="Tool" options={tools.map((t) => ({ id: t, text: TOOL_NAMES[t] }))} />
          </FormField>
        )}
        <SpaceBetween direction="horizontal" size="xs">
          <Button iconName="zoom-in" ariaLabel="Zoom in" onClick={() => editor?.zoom(1.25)} />
          <Button iconName="zoom-out" ariaLabel="Zoom out" onClick={() => editor?.zoom(0.8)} />
          <Button iconName="zoom-to-fit" ariaLabel="Fit the image" onClick={() => editor?.fit()} />
          {p.editable && <Button iconName="undo" ariaLabel="Undo (Ctrl+Z)" disabled={!editor?.canUndo} onClick={() => editor?.undo()} />}
          {p.editable && <Button iconName="redo" ariaLabel="Redo (Ctrl+Shift+Z)" disabled={!editor?.canRedo} onClick={() => editor?.redo()} />}
          {p.editable && editor?.selected && <Button iconName="remove" ariaLabel="Delete the selected shape" onClick={() => editor.deleteSelected()} />}
        </SpaceBetween>
        {p.mode === "label" ? (
          <SpaceBetween direction="horizontal" size="xs">
            <Button onClick={() => p.onStep(-1)} disabled={p.busy}>Previous (P)</Button>
            <Button onClick={() => p.onStep(1)} disabled={p.busy}>Next (N)</Button>
            {p.editable && <Button onClick={p.onSkip} disabled={p.busy}>Skip</Button>}
            {p.editable && <Button variant="primary" loading={p.busy} onClick={p.onSubmit} data-testid="label-submit">Submit (Enter)</Button>}
          </SpaceBetween>
        ) : (
          <SpaceBetween size="xs">
            <FormField label="Comment for the labeler" description="Required to send back.">
              <Textarea value={p.comment} onChange={({ detail }) => p.setComment(detail.value)} rows={3} ariaLabel="Comment for the labeler" data-testid="review-comment" />
            </FormField>
            <SpaceBetween direction="horizontal" size="xs">
              <Button onClick={() => p.onReview(false)} disabled={p.busy} data-testid="review-send-back">Send back</Button>
              <Button variant="primary" onClick={() => p.onReview(true)} disabled={p.busy} data-testid="review-accept">Accept (Enter)</Button>
            </SpaceBetween>
          </SpaceBetween>
        )}
        <Box variant="small" color="text-body-secondary">
          Keys: 1–9 label · Enter submit{job.task_type === "polygon" ? " (or close the polygon)" : ""} · N/P next/previous · Ctrl+Z undo · Ctrl+Shift+Z redo · Delete removes the selected shape · wheel zoom · space+drag or middle drag pan
        </Box>
      </SpaceBetween>
    </Container>
  );
}
