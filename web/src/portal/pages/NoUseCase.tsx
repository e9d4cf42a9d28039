import Box from "@cloudscape-design/components/box";

/** Shown by use-case pages when the user sees no use case yet. */
export function NoUseCase() {
  return (
    <Box textAlign="center" padding="xxl">
      <Box variant="h2">No use case yet</Box>
      <Box variant="p">Ask a PortalAdmin to add you to a use case team, or create one on the Use cases page.</Box>
    </Box>
  );
}
