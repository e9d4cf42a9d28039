import { useState } from "react";
import FormField from "@cloudscape-design/components/form-field";
import Input from "@cloudscape-design/components/input";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { EditDialog } from "../../components/Dialogs";
import { useSubmit } from "../../components/actions";
import { PLATFORMS, ml, type StationComponentCreate } from "../api-ml";

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const VERSION = /^\d+\.\d+\.\d+$/;

/** Register a version of the station software (a component deployments can ship). */
export function StationComponentDialog({ usecaseId, onClose, onCreated }: { usecaseId: string; onClose: () => void; onCreated: () => void }) {
  const [name, setName] = useState("dda-station");
  const [version, setVersion] = useState("1.0.0");
  const [platform, setPlatform] = useState<StationComponentCreate["platform"]>("linux/amd64");
  const { busy, failure, setFailure, run } = useSubmit();
  const options = PLATFORMS.map((p) => ({ value: p, label: p }));
  const save = () => {
    if (!NAME.test(name)) return setFailure("Name: lower-case letters, digits, - and _.");
    if (!VERSION.test(version)) return setFailure("Version: three numbers, e.g. 1.2.0.");
    void run(async () => {
      await ml.createStationComponent(usecaseId, { name, version, platform });
      onCreated();
    });
  };
  return (
    <EditDialog header="Register station software" saveTestId="component-save" busy={busy} failure={failure} onSave={save} onClose={onClose}>
      <SpaceBetween size="m">
        <FormField label="Name">
          <Input value={name} onChange={({ detail }) => setName(detail.value.toLowerCase())} ariaLabel="Component name" />
        </FormField>
        <FormField label="Version" description="Semantic version: major.minor.patch.">
          <Input value={version} onChange={({ detail }) => setVersion(detail.value)} ariaLabel="Component version" />
        </FormField>
        <FormField label="Platform">
          <Select selectedOption={options.find((o) => o.value === platform) ?? null} options={options} onChange={({ detail }) => setPlatform(detail.selectedOption.value as StationComponentCreate["platform"])} ariaLabel="Platform" />
        </FormField>
      </SpaceBetween>
    </EditDialog>
  );
}
