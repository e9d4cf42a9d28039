import type { ReactNode } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Form from "@cloudscape-design/components/form";
import Modal from "@cloudscape-design/components/modal";
import SpaceBetween from "@cloudscape-design/components/space-between";

type FooterProps = {
  primary: string;
  onPrimary: () => void;
  onCancel: () => void;
  busy?: boolean;
  testId?: string;
};

/** The footer of every station dialog: Cancel, then the primary action, on the right. */
export function DialogFooter({ primary, onPrimary, onCancel, busy = false, testId }: FooterProps) {
  return (
    <Box float="right">
      <SpaceBetween direction="horizontal" size="xs">
        <Button variant="link" onClick={onCancel}>Cancel</Button>
        <Button variant="primary" loading={busy} onClick={onPrimary} data-testid={testId}>{primary}</Button>
      </SpaceBetween>
    </Box>
  );
}

type ConfirmProps = {
  visible: boolean;
  header: string;
  confirm?: string;
  onCancel: () => void;
  onConfirm: () => void;
  children: ReactNode;
};

/** A yes/no question before a destructive action; `onConfirm` does the action (and closes the dialog). */
export function ConfirmDialog({ visible, header, confirm = "Delete", onCancel, onConfirm, children }: ConfirmProps) {
  return (
    <Modal visible={visible} onDismiss={onCancel} header={header} footer={<DialogFooter primary={confirm} onPrimary={onConfirm} onCancel={onCancel} />}>
      {children}
    </Modal>
  );
}

type EditProps = {
  header: string;
  saveTestId: string;
  busy: boolean;
  failure: string | null;
  onSave: () => void;
  onClose: () => void;
  children: ReactNode;
};

/** The large create/edit dialog of a station record: its fields, why the last save failed, and Save. */
export function EditDialog({ header, saveTestId, busy, failure, onSave, onClose, children }: EditProps) {
  return (
    <Modal
      visible
      size="large"
      onDismiss={onClose}
      header={header}
      footer={<DialogFooter primary="Save" onPrimary={onSave} onCancel={onClose} busy={busy} testId={saveTestId} />}
    >
      <Form>
        <SpaceBetween size="m">
          {failure && <Alert type="error" header="Not saved">{failure}</Alert>}
          {children}
        </SpaceBetween>
      </Form>
    </Modal>
  );
}
