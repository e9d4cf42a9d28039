import Box from "@cloudscape-design/components/box";
import Spinner from "@cloudscape-design/components/spinner";
import { useObjectUrl } from "../hooks";

type Props = {
  load: (() => Promise<Blob>) | null;
  cacheKey: string;
  alt: string;
  maxHeight?: number;
  testId?: string;
};

/** An image the API serves behind the bearer token: fetched as a blob and shown via an object URL. */
export function AuthImage({ load, cacheKey, alt, maxHeight = 480, testId }: Props) {
  const { url, error } = useObjectUrl(load, cacheKey);
  if (!load) return <Box color="text-status-inactive">No image</Box>;
  if (error && !url) return <Box color="text-status-error">Image unavailable: {error}</Box>;
  if (!url) return <Spinner size="large" />;
  return (
    <img
      src={url}
      alt={alt}
      data-testid={testId}
      style={{ maxWidth: "100%", maxHeight, objectFit: "contain", display: "block", borderRadius: 8 }}
    />
  );
}
