// The shared subject fixture (testdata/conformance/subjects.json), generated
// from Go's internal/spec: the TypeScript port must derive the same subject,
// kind, queue group, timeouts and refusals from the same descriptors, and
// the descriptors protoc-gen-es generated for proto/gaming must carry the
// same options.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import type { DescService } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

import { forService, formatGoDuration, SpecError } from "../src/spec.js";
import * as gaming from "./gaming.js";
import { readJson } from "./harness.js";

interface FixtureMethod {
  name: string;
  procedure: string;
  subject: string;
  kind: string;
  queueGroup: string;
  timeout: string;
  methodTimeout: string;
  idempotency: string;
  delivery: string;
  durable: boolean;
  skip: boolean;
  deprecated: boolean;
}

interface FixtureService {
  service: string;
  file: string;
  error?: { element: string; option: string };
  spec?: {
    microName: string;
    version: string;
    subjectBase: string;
    queueGroup: string;
    defaultTimeout: string;
    skip: boolean;
    deprecated: boolean;
    methods: FixtureMethod[];
  };
}

const fixture = readJson<{ descriptorSet: string; services: FixtureService[] }>("testdata/conformance/subjects.json");
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, base64Decode(fixture.descriptorSet)));

/** derived is what the TypeScript port derives, in the fixture's shape. */
function derived(sd: DescService): Omit<FixtureService, "service" | "file"> {
  let s;
  try {
    s = forService(sd);
  } catch (e) {
    assert.ok(e instanceof SpecError, `forService threw ${String(e)}, not a SpecError`);
    return { error: { element: e.element, option: e.option } };
  }
  return {
    spec: {
      microName: s.microName,
      version: s.version,
      subjectBase: s.subjectBase,
      queueGroup: s.queueGroup,
      defaultTimeout: s.defaultTimeoutMs > 0 ? formatGoDuration(s.defaultTimeoutMs * 1e6) : "",
      skip: s.skip,
      deprecated: s.deprecated,
      methods: s.methods.map((m) => ({
        name: m.name,
        procedure: m.procedure,
        subject: m.subject,
        kind: m.kind,
        queueGroup: m.queueGroup,
        timeout: m.timeout,
        methodTimeout: m.methodTimeoutMs > 0 ? formatGoDuration(m.methodTimeoutMs * 1e6) : "",
        idempotency: m.idempotency,
        delivery: m.delivery ?? "",
        durable: m.durable !== undefined,
        skip: m.skip,
        deprecated: m.deprecated,
      })),
    },
  };
}

test("the fixture has every kind of case", () => {
  // A fixture that lost its cases would pass vacuously.
  assert.ok(fixture.services.filter((s) => s.error !== undefined).length >= 20, "refusals");
  assert.ok(fixture.services.filter((s) => s.service.startsWith("gaming.")).length === 22, "the 22 gaming services");
  const kinds = new Set(fixture.services.flatMap((s) => s.spec?.methods.map((m) => m.kind) ?? []));
  assert.deepEqual([...kinds].sort(), ["bidi_stream", "client_stream", "event", "server_stream", "unary"]);
});

for (const want of fixture.services) {
  test(`subjects: ${want.service}`, () => {
    const sd = registry.getService(want.service);
    assert.ok(sd !== undefined, `${want.service} is not in the fixture's descriptor set`);
    assert.equal(sd.file.proto.name, want.file);
    assert.deepEqual(derived(sd), want.error !== undefined ? { error: want.error } : { spec: want.spec });
  });
}

test("the generated gaming descriptors carry the schema's options", () => {
  const services: DescService[] = Object.values(gaming as Record<string, unknown>).filter((v) => (v as DescService).kind === "service") as DescService[];
  assert.equal(services.length, 22);
  for (const sd of services) {
    const want = fixture.services.find((s) => s.service === sd.typeName);
    assert.ok(want !== undefined, `${sd.typeName} is not in the fixture`);
    assert.deepEqual(derived(sd), { spec: want.spec }, sd.typeName);
  }
});

test("formatGoDuration prints as Go's time.Duration.String", () => {
  const cases: [number, string][] = [
    [0, "0s"],
    [1, "1ns"],
    [999, "999ns"],
    [1500, "1.5µs"],
    [1_000_000, "1ms"],
    [50_000_000, "50ms"],
    [250_000_000, "250ms"],
    [1e9, "1s"],
    [1.5e9, "1.5s"],
    [90e9, "1m30s"],
    [3600e9, "1h0m0s"],
    [7200e9, "2h0m0s"],
    [3723e9 + 40, "1h2m3.00000004s"],
    [86400e9, "24h0m0s"],
  ];
  for (const [ns, want] of cases) {
    assert.equal(formatGoDuration(ns), want, `${ns}ns`);
  }
});
