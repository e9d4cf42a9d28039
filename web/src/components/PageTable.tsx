import type { ReactNode } from "react";
import Box from "@cloudscape-design/components/box";
import SpaceBetween from "@cloudscape-design/components/space-between";

/** The empty state every table on the station shows. */
export function EmptyState({ title, subtitle, action }: { title: string; subtitle?: string; action?: ReactNode }) {
  return (
    <Box textAlign="center" color="inherit" padding="m">
      <SpaceBetween size="xxs">
        <Box variant="strong" color="inherit">{title}</Box>
        {subtitle && <Box variant="p" color="inherit">{subtitle}</Box>}
        {action}
      </SpaceBetween>
    </Box>
  );
}
