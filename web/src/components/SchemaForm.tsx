import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Textarea from "@cloudscape-design/components/textarea";
import Toggle from "@cloudscape-design/components/toggle";
import Box from "@cloudscape-design/components/box";
import type { PluginInfo } from "../api";
import { draftFromConfig, fieldsFor, type FieldSpec, type FormValues, type PluginDraft } from "../schema";

type FieldsProps = {
  fields: FieldSpec[];
  values: FormValues;
  errors?: Record<string, string>;
  onChange: (values: FormValues) => void;
  idPrefix: string;
};

function FieldInput({ field, value, onChange, id }: { field: FieldSpec; value: string | boolean; onChange: (v: string | boolean) => void; id: string }) {
  switch (field.kind) {
    case "boolean":
      return <Toggle checked={value === true} onChange={({ detail }) => onChange(detail.checked)} controlId={id}>{field.label}</Toggle>;
    case "enum": {
      const options = [
        ...(field.required ? [] : [{ label: "(default)", value: "" }]),
        ...(field.options ?? []).map((o) => ({ label: o, value: o })),
      ];
      const selected = options.find((o) => o.value === value) ?? null;
      return <Select selectedOption={selected} options={options} onChange={({ detail }) => onChange(detail.selectedOption.value ?? "")} controlId={id} />;
    }
    case "json":
      return <Textarea value={String(value)} rows={3} onChange={({ detail }) => onChange(detail.value)} controlId={id} placeholder="JSON" />;
    default:
      return (
        <Input
          value={String(value)}
          type={field.kind === "secret" ? "password" : field.kind === "integer" || field.kind === "number" ? "number" : "text"}
          inputMode={field.kind === "integer" ? "numeric" : field.kind === "number" ? "decimal" : undefined}
          placeholder={field.default !== undefined && field.default !== null ? `default: ${String(field.default)}` : undefined}
          onChange={({ detail }) => onChange(detail.value)}
          controlId={id}
        />
      );
  }
}

/** The inputs for a plugin schema's fields. */
export function SchemaFields({ fields, values, errors = {}, onChange, idPrefix }: FieldsProps) {
  if (fields.length === 0) return <Box color="text-body-secondary">No settings for this type.</Box>;
  return (
    <SpaceBetween size="s">
      {fields.map((field) => {
        const hint = field.kind === "list" ? "Separate values with commas." : undefined;
        return (
          <FormField
            key={field.name}
            label={field.kind === "boolean" ? undefined : field.label}
            description={field.description}
            constraintText={hint}
            errorText={errors[field.name]}
            controlId={`${idPrefix}-${field.name}`}
            data-field={field.name}
            info={field.required || field.kind === "boolean" ? undefined : <Box variant="small" color="text-body-secondary">optional</Box>}
          >
            <FieldInput
              field={field}
              id={`${idPrefix}-${field.name}`}
              value={values[field.name] ?? (field.kind === "boolean" ? false : "")}
              onChange={(v) => onChange({ ...values, [field.name]: v })}
            />
          </FormField>
        );
      })}
    </SpaceBetween>
  );
}

type EditorProps = {
  plugins: PluginInfo[];
  draft: PluginDraft;
  errors?: Record<string, string>;
  onChange: (draft: PluginDraft) => void;
  idPrefix: string;
  typeLabel?: string;
};

/** A type picker plus the selected type's schema-driven fields. */
export function PluginEditor({ plugins, draft, errors, onChange, idPrefix, typeLabel = "Type" }: EditorProps) {
  const options = plugins.map((p) => ({ label: p.title || p.type, value: p.type, description: p.description }));
  return (
    <SpaceBetween size="s">
      <FormField label={typeLabel} errorText={errors?.type} controlId={`${idPrefix}-type`}>
        <Select
          controlId={`${idPrefix}-type`}
          selectedOption={options.find((o) => o.value === draft.type) ?? null}
          options={options}
          placeholder="Choose a type"
          onChange={({ detail }) => onChange(draftFromConfig(plugins, { type: detail.selectedOption.value ?? "" }))}
        />
      </FormField>
      {draft.type && (
        <SchemaFields
          fields={fieldsFor(plugins, draft.type)}
          values={draft.values}
          errors={errors}
          idPrefix={idPrefix}
          onChange={(values) => onChange({ ...draft, values })}
        />
      )}
    </SpaceBetween>
  );
}

type ListProps = {
  title: string;
  plugins: PluginInfo[];
  drafts: PluginDraft[];
  errors: Record<string, string>[];
  onChange: (drafts: PluginDraft[]) => void;
  idPrefix: string;
  addLabel: string;
};

/** A list of plugin configs (a workflow's triggers or outputs), each removable. */
export function PluginListEditor({ title, plugins, drafts, errors, onChange, idPrefix, addLabel }: ListProps) {
  const update = (index: number, draft: PluginDraft) => onChange(drafts.map((d, i) => (i === index ? draft : d)));
  return (
    <SpaceBetween size="s">
      {drafts.map((draft, index) => (
        <Container
          key={index}
          header={
            <Header
              variant="h3"
              actions={<Button onClick={() => onChange(drafts.filter((_, i) => i !== index))}>Remove</Button>}
            >
              {title} {index + 1}
            </Header>
          }
        >
          <PluginEditor
            plugins={plugins}
            draft={draft}
            errors={errors[index]}
            idPrefix={`${idPrefix}-${index}`}
            onChange={(d) => update(index, d)}
          />
        </Container>
      ))}
      <Button iconName="add-plus" onClick={() => onChange([...drafts, draftFromConfig(plugins, undefined, plugins[0]?.type ?? "")])}>
        {addLabel}
      </Button>
    </SpaceBetween>
  );
}
