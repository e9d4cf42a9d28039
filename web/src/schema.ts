// Turn a plugin's JSON schema (pydantic's model_json_schema()) into form fields, and form values
// back into a config object. Pure functions, tested in schema.test.ts.

import type { JsonSchema, PluginConfig } from "./api";

export type FieldKind = "string" | "secret" | "integer" | "number" | "boolean" | "enum" | "list" | "json";

export type FieldSpec = {
  name: string;
  label: string;
  description?: string;
  kind: FieldKind;
  required: boolean;
  nullable: boolean;
  /** enum choices as shown; enumValues holds the JSON values they stand for (e.g. QoS 0, 1, 2) */
  options?: string[];
  enumValues?: unknown[];
  itemKind?: "string" | "integer" | "number";
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  default?: unknown;
};

/** Raw form state: what the inputs hold (strings for text-like inputs, booleans for toggles). */
export type FormValues = Record<string, string | boolean>;

function resolveRef(schema: JsonSchema, root: JsonSchema): JsonSchema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.split("/").pop() ?? "";
  const target = root.$defs?.[name] ?? (root as { definitions?: Record<string, JsonSchema> }).definitions?.[name];
  return target ? { ...target, ...schema, $ref: undefined } : schema;
}

/** Strip Optional[...] (anyOf [X, null]) and single-branch allOf; report whether null was allowed. */
function unwrap(schema: JsonSchema, root: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  let current = resolveRef(schema, root);
  let nullable = false;
  const variants = current.anyOf ?? current.oneOf;
  if (variants) {
    const nonNull = variants.filter((v) => v.type !== "null");
    nullable = nonNull.length < variants.length;
    if (nonNull.length === 1) {
      const { anyOf: _a, oneOf: _o, ...rest } = current;
      current = { ...rest, ...resolveRef(nonNull[0], root) };
    }
  }
  if (current.allOf?.length === 1) {
    const { allOf, ...rest } = current;
    current = { ...rest, ...resolveRef(allOf[0], root) };
  }
  if (Array.isArray(current.type)) {
    nullable = nullable || current.type.includes("null");
    const types = current.type.filter((t) => t !== "null");
    current = { ...current, type: types.length === 1 ? types[0] : types };
  }
  return { schema: current, nullable };
}

const ACRONYMS: Record<string, string> = {
  url: "URL", tls: "TLS", qos: "QoS", fps: "FPS", id: "ID", mqtt: "MQTT", gpio: "GPIO", roi: "ROI", ip: "IP",
};
const UNITS: Record<string, string> = { s: "(s)", ms: "(ms)", us: "(µs)", pct: "(%)", mb: "(MB)" };

/** "poll_interval_s" -> "Poll interval (s)", "camera_id" -> "Camera ID", "url" -> "URL". */
export function humanize(name: string): string {
  const words = name.split("_").filter(Boolean);
  const unit = words.length > 1 ? UNITS[words[words.length - 1]] : undefined;
  const body = (unit ? words.slice(0, -1) : words).map((w, i) => ACRONYMS[w] ?? (i === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : w));
  return unit ? `${body.join(" ")} ${unit}` : body.join(" ");
}

/** pydantic's automatic title ("Poll Interval S") says nothing a label from the name would not. */
function isAutoTitle(title: string | undefined, name: string): boolean {
  if (!title) return true;
  const auto = name.split("_").map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(" ");
  return title === auto;
}

function kindOf(schema: JsonSchema, name: string): Pick<FieldSpec, "kind" | "options" | "enumValues" | "itemKind"> {
  if (schema.enum && schema.enum.length > 0 && schema.enum.every((v) => ["string", "number"].includes(typeof v))) {
    return { kind: "enum", options: schema.enum.map(String), enumValues: [...schema.enum] };
  }
  switch (schema.type) {
    case "boolean":
      return { kind: "boolean" };
    case "integer":
      return { kind: "integer" };
    case "number":
      return { kind: "number" };
    case "string": {
      const secret = schema.format === "password" || schema.writeOnly === true || /secret|password/i.test(name);
      return { kind: secret ? "secret" : "string" };
    }
    case "array": {
      const itemType = schema.items?.type;
      if (itemType === "string" || itemType === "integer" || itemType === "number") {
        return { kind: "list", itemKind: itemType };
      }
      return { kind: "json" };
    }
    default:
      return { kind: "json" };
  }
}

/** The editable fields of a plugin schema. The discriminator ("type", a const) is not a field. */
export function schemaFields(root: JsonSchema): FieldSpec[] {
  const resolved = resolveRef(root, root);
  const required = new Set(resolved.required ?? []);
  const fields: FieldSpec[] = [];
  for (const [name, raw] of Object.entries(resolved.properties ?? {})) {
    const { schema, nullable } = unwrap(raw, root);
    if (name === "type" && (schema.const !== undefined || schema.enum?.length === 1)) continue;
    const title = raw.title ?? schema.title;
    fields.push({
      name,
      label: isAutoTitle(title, name) ? humanize(name) : (title as string),
      description: schema.description ?? raw.description,
      required: required.has(name),
      nullable,
      minimum: schema.minimum ?? schema.exclusiveMinimum,
      maximum: schema.maximum ?? schema.exclusiveMaximum,
      exclusiveMinimum: schema.minimum === undefined && schema.exclusiveMinimum !== undefined,
      exclusiveMaximum: schema.maximum === undefined && schema.exclusiveMaximum !== undefined,
      default: raw.default ?? schema.default,
      ...kindOf(schema, name),
    });
  }
  return fields;
}

function toFormValue(field: FieldSpec, value: unknown): string | boolean {
  if (field.kind === "boolean") return value === true;
  if (value === undefined || value === null) return "";
  if (field.kind === "list" && Array.isArray(value)) return value.join(", ");
  if (field.kind === "json") return JSON.stringify(value, null, 2);
  return String(value);
}

/** Form state for a config: its current values, else the schema defaults. */
export function initialValues(fields: FieldSpec[], config?: Record<string, unknown>): FormValues {
  const values: FormValues = {};
  for (const field of fields) {
    const current = config && field.name in config ? config[field.name] : field.default;
    values[field.name] = toFormValue(field, current);
  }
  return values;
}

type Parsed = { value?: unknown; error?: string; omit?: boolean };

function parseNumber(field: FieldSpec, text: string): Parsed {
  const value = Number(text);
  if (!Number.isFinite(value)) return { error: "Enter a number." };
  if (field.kind === "integer" && !Number.isInteger(value)) return { error: "Enter a whole number." };
  if (field.minimum !== undefined) {
    if (field.exclusiveMinimum ? value <= field.minimum : value < field.minimum) {
      return { error: field.exclusiveMinimum ? `Must be more than ${field.minimum}.` : `Must be at least ${field.minimum}.` };
    }
  }
  if (field.maximum !== undefined) {
    if (field.exclusiveMaximum ? value >= field.maximum : value > field.maximum) {
      return { error: field.exclusiveMaximum ? `Must be less than ${field.maximum}.` : `Must be at most ${field.maximum}.` };
    }
  }
  return { value };
}

function parseList(field: FieldSpec, text: string): Parsed {
  const items = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (field.itemKind === "string") return { value: items };
  const numbers = items.map(Number);
  if (numbers.some((n) => !Number.isFinite(n))) return { error: "Enter numbers separated by commas." };
  return { value: numbers };
}

function parseField(field: FieldSpec, raw: string | boolean | undefined): Parsed {
  if (field.kind === "boolean") return { value: raw === true };
  const text = typeof raw === "string" ? raw.trim() : "";
  if (text === "") {
    if (field.required && !field.nullable) return { error: `${field.label} is required.` };
    // Leave unset optional fields out so the server applies its own default.
    return field.nullable && field.required ? { value: null } : { omit: true };
  }
  switch (field.kind) {
    case "integer":
    case "number":
      return parseNumber(field, text);
    case "list":
      return parseList(field, text);
    case "json":
      try {
        return { value: JSON.parse(text) };
      } catch {
        return { error: "Enter valid JSON." };
      }
    case "enum": {
      const index = field.options?.indexOf(text) ?? -1;
      return index >= 0 ? { value: field.enumValues?.[index] ?? text } : { error: `Choose one of ${field.options?.join(", ")}.` };
    }
    default:
      return { value: typeof raw === "string" && field.kind === "secret" ? raw : text };
  }
}

/** Build the plugin config from form state; errors are keyed by field name. */
export function buildConfig(
  type: string,
  fields: FieldSpec[],
  values: FormValues,
): { config: PluginConfig; errors: Record<string, string> } {
  const config: PluginConfig = { type };
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const parsed = parseField(field, values[field.name]);
    if (parsed.error) errors[field.name] = parsed.error;
    else if (!parsed.omit) config[field.name] = parsed.value;
  }
  return { config, errors };
}

/** A plugin config being edited: its type and the raw form state of that type's fields. */
export type PluginDraft = { type: string; values: FormValues };

type PluginLike = { type: string; schema: JsonSchema };

export function fieldsFor(plugins: PluginLike[], type: string): FieldSpec[] {
  const plugin = plugins.find((p) => p.type === type);
  return plugin ? schemaFields(plugin.schema) : [];
}

export function draftFromConfig(plugins: PluginLike[], config: PluginConfig | undefined, fallbackType = ""): PluginDraft {
  const type = config?.type ?? fallbackType;
  return { type, values: initialValues(fieldsFor(plugins, type), config) };
}

export function draftToConfig(
  plugins: PluginLike[],
  draft: PluginDraft,
): { config: PluginConfig; errors: Record<string, string> } {
  if (!draft.type) return { config: { type: "" }, errors: { type: "Choose a type." } };
  return buildConfig(draft.type, fieldsFor(plugins, draft.type), draft.values);
}
