import { describe, expect, it } from "vitest";
import type { JsonSchema } from "./api";
import { buildConfig, humanize, initialValues, schemaFields } from "./schema";

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
    qos: { default: 1, enum: [0, 1, 2], title: "Qos", type: "integer" },
    poll_interval_s: { default: 0.2, exclusiveMinimum: 0, title: "Poll Interval S", type: "number" },
  },
  required: ["type", "url"],
  $defs: { Mode: { enum: ["cookie", "plain"], title: "Mode", type: "string" } },
};

describe("schemaFields", () => {
  const fields = schemaFields(synthetic);
  const byName = Object.fromEntries(fields.map((f) => [f.name, f]));

  it("skips the discriminator and keeps the rest in order", () => {
    expect(fields.map((f) => f.name)).toEqual([
      "width", "anomaly_rate", "seed", "mode", "classes", "loop", "url", "api_secret", "extra", "qos",
      "poll_interval_s",
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
    expect(byName.qos).toMatchObject({ kind: "enum", options: ["0", "1", "2"], label: "QoS" });
    expect(byName.poll_interval_s).toMatchObject({ label: "Poll interval (s)", exclusiveMinimum: true, minimum: 0 });
    expect(byName.anomaly_rate.label).toBe("Anomaly rate");
  });

  it("turns field names into readable labels", () => {
    expect(humanize("timeout_ms")).toBe("Timeout (ms)");
    expect(humanize("camera_id")).toBe("Camera ID");
    expect(humanize("exposure_us")).toBe("Exposure (µs)");
    expect(humanize("s")).toBe("S");
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
    expect(config.qos).toBe(1); // the number, not the string the select holds
  });

  it("reports bad input per field", () => {
    const values = initialValues(fields);
    values.width = "3.5";
    values.anomaly_rate = "2";
    values.mode = "round";
    values.extra = "{not json";
    values.poll_interval_s = "0";
    const { errors } = buildConfig("synthetic", fields, values);
    expect(Object.keys(errors).sort()).toEqual(["anomaly_rate", "extra", "mode", "poll_interval_s", "url", "width"]);
    expect(errors.poll_interval_s).toMatch(/more than 0/);
    expect(errors.url).toMatch(/required/);
    expect(errors.anomaly_rate).toMatch(/at most 1/);
  });
});
