import { describe, expect, it } from "vitest";
import type { JsonSchema } from "./api";
import { buildConfig, initialValues, schemaFields } from "./schema";

// Shaped like pydantic 2's model_json_schema() for a source plugin config.
const synthetic: JsonSchema = {
  title: "SyntheticSourceConfig",
  type: "object",
  properties: {
    type: { const: "synthetic", title: "Type", type: "string" },
    width: { default: 768, minimum: 16, title: "Width", type: "integer" },
    anomaly_rate: { default: 0.2, maximum: 1, minimum: 0, title: "Anomaly Rate", type: "number" },
    seed: { anyOf: [{ type: "integer" }, { type: "null" }], default: null, title: "Seed" },
    mode: { $ref: "#/$defs/Mode", default: "cookie" },
    classes: { type: "array", items: { type: "string" }, default: ["crack"] },
    loop: { type: "boolean", default: true },
    url: { type: "string", title: "URL" },
    api_secret: { type: "string" },
    extra: { type: "object", default: { a: 1 } },
  },
  required: ["type", "url"],
  $defs: { Mode: { enum: ["cookie", "plain"], title: "Mode", type: "string" } },
};

describe("schemaFields", () => {
  const fields = schemaFields(synthetic);
  const byName = Object.fromEntries(fields.map((f) => [f.name, f]));

  it("skips the discriminator and keeps the rest in order", () => {
    expect(fields.map((f) => f.name)).toEqual([
      "width", "anomaly_rate", "seed", "mode", "classes", "loop", "url", "api_secret", "extra",
    ]);
  });

  it("maps JSON types to input kinds", () => {
    expect(byName.width.kind).toBe("integer");
    expect(byName.width.minimum).toBe(16);
    expect(byName.anomaly_rate.kind).toBe("number");
    expect(byName.seed).toMatchObject({ kind: "integer", nullable: true });
    expect(byName.mode).toMatchObject({ kind: "enum", options: ["cookie", "plain"] });
    expect(byName.classes).toMatchObject({ kind: "list", itemKind: "string" });
    expect(byName.loop.kind).toBe("boolean");
    expect(byName.url).toMatchObject({ kind: "string", required: true, label: "URL" });
    expect(byName.api_secret.kind).toBe("secret");
    expect(byName.extra.kind).toBe("json");
  });
});

describe("initialValues and buildConfig", () => {
  const fields = schemaFields(synthetic);

  it("round-trips an existing config", () => {
    const existing = { type: "synthetic", width: 640, seed: 7, classes: ["crack", "hole"], url: "x", loop: false };
    const values = initialValues(fields, existing);
    expect(values.width).toBe("640");
    expect(values.classes).toBe("crack, hole");
    expect(values.loop).toBe(false);
    const { config, errors } = buildConfig("synthetic", fields, values);
    expect(errors).toEqual({});
    expect(config).toMatchObject({ type: "synthetic", width: 640, seed: 7, classes: ["crack", "hole"], loop: false });
  });

  it("fills defaults and omits empty optional fields", () => {
    const values = initialValues(fields);
    values.url = "http://cam";
    values.seed = "";
    const { config, errors } = buildConfig("synthetic", fields, values);
    expect(errors).toEqual({});
    expect(config.width).toBe(768);
    expect("seed" in config).toBe(false);
    expect(config.extra).toEqual({ a: 1 });
  });

  it("reports bad input per field", () => {
    const values = initialValues(fields);
    values.width = "3.5";
    values.anomaly_rate = "2";
    values.mode = "round";
    values.extra = "{not json";
    const { errors } = buildConfig("synthetic", fields, values);
    expect(Object.keys(errors).sort()).toEqual(["anomaly_rate", "extra", "mode", "url", "width"]);
    expect(errors.url).toMatch(/required/);
    expect(errors.anomaly_rate).toMatch(/at most 1/);
  });
});
