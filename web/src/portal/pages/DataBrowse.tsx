import { useEffect, useRef, useState } from "react";
import Box from "@cloudscape-design/components/box";
import BreadcrumbGroup from "@cloudscape-design/components/breadcrumb-group";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import Modal from "@cloudscape-design/components/modal";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import { AuthImage } from "../../components/AuthImage";
import { ConfirmDialog } from "../../components/Dialogs";
import { useNotify } from "../../components/notify";
import { dataApi, type BrowsePage, type ImageInfo } from "../api-data";
import { bytes, folderTrail } from "../data-format";
import { when } from "../format";

const PAGE = 60;

/** A thumbnail fetched (with the session) only once it scrolls into view. */
function Thumb({ usecaseId, image, onOpen }: { usecaseId: string; image: ImageInfo; onOpen: () => void }) {
  const ref = useRef<HTMLButtonElement>(null);
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    const node = ref.current;
    if (!node) return;
    let objectUrl: string | null = null;
    let cancelled = false;
    const observer = new IntersectionObserver((entries) => {
      if (!entries.some((e) => e.isIntersecting)) return;
      observer.disconnect();
      dataApi.thumbnail(usecaseId, image.id).then(
        (blob) => {
          if (cancelled) return;
          objectUrl = URL.createObjectURL(blob);
          setUrl(objectUrl);
        },
        () => !cancelled && setFailed(true),
      );
    }, { rootMargin: "200px" });
    observer.observe(node);
    return () => {
      cancelled = true;
      observer.disconnect();
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [usecaseId, image.id]);
  return (
    <button ref={ref} type="button" className="data-thumb" onClick={onOpen} aria-label={`Preview ${image.name}`} data-testid="thumb">
      {url ? <img src={url} alt={image.name} data-testid="thumb-img" /> : <span className="data-thumb-empty">{failed ? "no preview" : ""}</span>}
      <span className="data-thumb-name">{image.name}</span>
    </button>
  );
}

function Preview({ usecaseId, image, mayDelete, onClose, onDeleted }: { usecaseId: string; image: ImageInfo; mayDelete: boolean; onClose: () => void; onDeleted: () => void }) {
  const notify = useNotify();
  const [confirm, setConfirm] = useState(false);
  const remove = () => {
    setConfirm(false);
    dataApi.deleteImage(usecaseId, image.id).then(
      () => {
        notify.success(`${image.name} deleted.`);
        onDeleted();
      },
      (e: unknown) => notify.error(e, `delete ${image.name}`),
    );
  };
  return (
    <Modal visible size="large" onDismiss={onClose} header={image.name}
      footer={<Box float="right"><SpaceBetween direction="horizontal" size="xs">
        {mayDelete && <Button onClick={() => setConfirm(true)} data-testid="image-delete">Delete</Button>}
        <Button variant="primary" onClick={onClose}>Close</Button>
      </SpaceBetween></Box>}>
      <SpaceBetween size="m">
        <AuthImage load={() => dataApi.content(usecaseId, image.id)} cacheKey={image.id} alt={image.name} maxHeight={560} testId="preview-img" />
        <KeyValuePairs columns={4} items={[
          { label: "Size", value: `${image.width} × ${image.height} px, ${bytes(image.size)}` },
          { label: "Format", value: image.format },
          { label: "Folder", value: image.folder || "(top)" },
          { label: "Uploaded", value: when(image.created_at) },
        ]} />
      </SpaceBetween>
      <ConfirmDialog visible={confirm} header={`Delete ${image.name}?`} onCancel={() => setConfirm(false)} onConfirm={remove}>
        The image leaves this folder. Images a dataset version uses cannot be deleted (the versions stay reproducible).
      </ConfirmDialog>
    </Modal>
  );
}

/** The use case's data tree: folders, then thumbnails, a page at a time. */
export function DataBrowser({ usecaseId, folder, onFolder, mayDelete, reloadKey }: { usecaseId: string; folder: string; onFolder: (f: string) => void; mayDelete: boolean; reloadKey: number }) {
  const [pages, setPages] = useState<BrowsePage[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [open, setOpen] = useState<ImageInfo | null>(null);
  const [bump, setBump] = useState(0);
  useEffect(() => {
    let cancelled = false;
    setLoading(true);
    dataApi.browse(usecaseId, folder, undefined, PAGE).then(
      (page) => { if (!cancelled) { setPages([page]); setError(null); setLoading(false); } },
      (e: unknown) => { if (!cancelled) { setError(e instanceof Error ? e.message : String(e)); setLoading(false); } },
    );
    return () => { cancelled = true; };
  }, [usecaseId, folder, reloadKey, bump]);
  const last = pages[pages.length - 1];
  const more = () => {
    if (!last?.next_cursor) return;
    setLoading(true);
    dataApi.browse(usecaseId, folder, last.next_cursor, PAGE).then(
      (page) => { setPages((all) => [...all, page]); setLoading(false); },
      (e: unknown) => { setError(e instanceof Error ? e.message : String(e)); setLoading(false); },
    );
  };
  const folders = pages.flatMap((p) => p.folders);
  const images = pages.flatMap((p) => p.images);
  return (
    <Container header={<Header variant="h2" counter={`(${images.length}${last?.next_cursor ? "+" : ""} images here)`} actions={<Button iconName="refresh" ariaLabel="Refresh" onClick={() => setBump((b) => b + 1)} />}>Browse</Header>}>
      <SpaceBetween size="m">
        <BreadcrumbGroup ariaLabel="Folder" items={folderTrail(folder).map((f) => ({ text: f.name, href: `#${f.path}` }))}
          onFollow={(e) => { e.preventDefault(); onFolder(e.detail.href.replace(/^#/, "")); }} />
        {folders.length > 0 && (
          <SpaceBetween direction="horizontal" size="xs">
            {folders.map((f) => <Button key={f.path} iconName="folder" onClick={() => onFolder(f.path)} data-testid="folder">{f.name}</Button>)}
          </SpaceBetween>
        )}
        {error && <StatusIndicator type="error">{error}</StatusIndicator>}
        {!loading && !error && images.length === 0 && folders.length === 0 && <Box color="text-status-inactive">No images here yet: upload some above.</Box>}
        <div className="data-thumb-grid" data-testid="thumb-grid">
          {images.map((image) => <Thumb key={image.id} usecaseId={usecaseId} image={image} onOpen={() => setOpen(image)} />)}
        </div>
        {loading && <StatusIndicator type="loading">Loading</StatusIndicator>}
        {last?.next_cursor && !loading && <Button onClick={more} data-testid="browse-more">Show more</Button>}
      </SpaceBetween>
      {open && <Preview usecaseId={usecaseId} image={open} mayDelete={mayDelete} onClose={() => setOpen(null)} onDeleted={() => { setOpen(null); setBump((b) => b + 1); }} />}
    </Container>
  );
}
