import { useState } from "react";
import Box from "@cloudscape-design/components/box";
import FormField from "@cloudscape-design/components/form-field";
import Multiselect from "@cloudscape-design/components/multiselect";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { useLoader } from "../../hooks";
import { api, type ModelPackage } from "../api";

type Props = { usecaseId: string; selected: string[]; onChange: (keys: string[]) => void };

/** Pick packages to ship: model, then version, then its packages (the registry's lists). */
export function PackagePicker({ usecaseId, selected, onChange }: Props) {
  const [modelId, setModelId] = useState<string | null>(null);
  const [versionId, setVersionId] = useState<string | null>(null);
  const [known, setKnown] = useState<Record<string, ModelPackage>>({});
  const models = useLoader(() => api.listModels(usecaseId), [usecaseId]);
  const versions = useLoader(() => (modelId ? api.listVersions(usecaseId, modelId) : Promise.resolve([])), [usecaseId, modelId]);
  const packages = useLoader(
    async () => {
      if (!versionId) return [];
      const list = await api.listPackages(usecaseId, versionId);
      setKnown((k) => ({ ...k, ...Object.fromEntries(list.map((p) => [p.package_key, p])) }));
      return list;
    },
    [usecaseId, versionId],
  );
  if (models.error) {
    return <Box color="text-status-inactive">No model registry answers here ({models.error}); the deployment ships configuration only.</Box>;
  }
  const label = (key: string) => {
    const p = known[key];
    return p ? `${p.target} ${p.precision}` : key.split("/").pop() ?? key;
  };
  const modelOpt = (models.data ?? []).map((m) => ({ value: m.id, label: m.name, description: m.model_type }));
  const versionOpt = (versions.data ?? []).map((v) => ({ value: v.id, label: `v${v.version}`, description: v.stage }));
  const packageOpt = (packages.data ?? []).map((p) => ({ value: p.package_key, label: `${p.target} ${p.precision}` }));
  const chosen = selected.map((key) => ({ value: key, label: label(key) }));
  return (
    <SpaceBetween size="s">
      <SpaceBetween direction="horizontal" size="xs">
        <FormField label="Model">
          <Select
            selectedOption={modelOpt.find((o) => o.value === modelId) ?? null}
            options={modelOpt}
            onChange={({ detail }) => { setModelId(detail.selectedOption.value ?? null); setVersionId(null); }}
            placeholder="Choose a model"
            empty="No models registered yet"
            statusType={models.loading ? "loading" : "finished"}
            ariaLabel="Model"
          />
        </FormField>
        <FormField label="Version">
          <Select
            selectedOption={versionOpt.find((o) => o.value === versionId) ?? null}
            options={versionOpt}
            disabled={!modelId}
            onChange={({ detail }) => setVersionId(detail.selectedOption.value ?? null)}
            placeholder="Choose a version"
            empty="No versions"
            ariaLabel="Model version"
          />
        </FormField>
      </SpaceBetween>
      <FormField label="Packages" description="Compiled packages of the chosen version; up to 10 in all.">
        <Multiselect
          selectedOptions={chosen}
          options={[...chosen, ...packageOpt.filter((o) => !selected.includes(o.value))]}
          onChange={({ detail }) => onChange(detail.selectedOptions.map((o) => o.value ?? "").filter(Boolean).slice(0, 10))}
          placeholder="Choose packages"
          empty={versionId ? "This version has no packages yet" : "Choose a model version first"}
          ariaLabel="Packages"
        />
      </FormField>
    </SpaceBetween>
  );
}
