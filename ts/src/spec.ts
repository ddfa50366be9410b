// How a protobuf service travels over NATS: each method's subject, kind and
// queue group, the micro service name and version, timeouts and event
// delivery, from the descriptors and the natsrpc.v1 options. This is the
// TypeScript port of the Go package internal/spec; the shared fixture
// testdata/conformance/subjects.json, generated from the Go side, keeps
// the two from drifting (test/spec.test.ts).
import { getOption, hasOption } from "@bufbuild/protobuf";
import type { DescFile, DescMethod, DescService } from "@bufbuild/protobuf";
import type { Duration } from "@bufbuild/protobuf/wkt";

import {
  EventDelivery,
  file as fileExt,
  method as methodExt,
  MethodKind as OptionKind,
  service as serviceExt,
  StorageType,
} from "./gen/natsrpc/v1/options_pb.js";
import type { DurableEvent, FileOptions, MethodOptions, ServiceOptions } from "./gen/natsrpc/v1/options_pb.js";
import { utf8Length } from "./headers.js";

/** DEFAULT_QUEUE_GROUP is nats.go micro's default queue group. */
export const DEFAULT_QUEUE_GROUP = "q";
/** DEFAULT_VERSION is the micro version when the service option sets none. */
export const DEFAULT_VERSION = "0.0.0";
/** MAX_SUBJECT_LENGTH is the longest subject, in bytes, a service may listen on. */
export const MAX_SUBJECT_LENGTH = 1024;

/** MethodKindName is how a method travels, as named in endpoint metadata. */
export type MethodKindName = "unary" | "server_stream" | "client_stream" | "bidi_stream" | "event";
/** Delivery says which instances receive an event. */
export type Delivery = "queue" | "broadcast";
/** Idempotency is the standard idempotency_level, as named in endpoint metadata. */
export type Idempotency = "unknown" | "no_side_effects" | "idempotent";

/** ServiceSpec is the NATS mapping of one protobuf service. */
export interface ServiceSpec {
  readonly desc: DescService;
  /** The proto full name, e.g. "gaming.quest_system.v1.QuestSystemService". */
  readonly fullName: string;
  /** The micro service name: the full name with dots as underscores. */
  readonly microName: string;
  /** The SemVer version reported to micro. */
  readonly version: string;
  /** The subject shared by all methods, before the method token. */
  readonly subjectBase: string;
  /** The queue group instances join; "" when the service opts out. */
  readonly queueGroup: string;
  /** The service's default_timeout in milliseconds; 0 when unset. */
  readonly defaultTimeoutMs: number;
  readonly skip: boolean;
  readonly deprecated: boolean;
  /** The methods in declaration order, skipped ones included. */
  readonly methods: readonly MethodSpec[];
}

/** MethodSpec is the NATS mapping of one protobuf method. */
export interface MethodSpec {
  readonly desc: DescMethod;
  readonly service: ServiceSpec;
  /** The proto method name, also the micro endpoint name. */
  readonly name: string;
  /** "/<service full name>/<method>", as gRPC and Connect name it. */
  readonly procedure: string;
  /** The NATS subject, without any runtime prefix. */
  readonly subject: string;
  readonly kind: MethodKindName;
  /** The queue group the method's subscription joins; "" for none. */
  readonly queueGroup: string;
  /** The client timeout: the method's option, else the service's default; 0 for neither. */
  readonly timeoutMs: number;
  /** The same, as Go prints a time.Duration ("30s", "1m30s", "50ms"); "" for none. */
  readonly timeout: string;
  /** The method's own timeout option only (what bounds a stream); 0 when unset. */
  readonly methodTimeoutMs: number;
  readonly idempotency: Idempotency;
  /** Events only. */
  readonly delivery: Delivery | undefined;
  /** The durable-event option; undefined unless the method is a durable event. */
  readonly durable: DurableEvent | undefined;
  readonly skip: boolean;
  readonly deprecated: boolean;
}

/**
 * SpecError reports an invalid natsrpc option or an unsupported method
 * shape, naming the file, the element and the option, like Go's
 * spec.Error.
 */
export class SpecError extends Error {
  override name = "SpecError";
  constructor(
    readonly file: string,
    readonly element: string,
    readonly option: string,
    readonly problem: string,
  ) {
    super(`${file}: ${element}${option !== "" ? `: option ${option}` : ""}: ${problem}`);
  }
}

const semverRe = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
const streamNameRe = /^[A-Za-z0-9_-]+$/;

const cache = new WeakMap<DescService, ServiceSpec>();

/**
 * forService derives the NATS mapping of a service. It throws a SpecError
 * when an option is invalid or a method has a shape natsrpc cannot carry.
 * Results are cached per descriptor.
 */
export function forService(desc: DescService): ServiceSpec {
  const cached = cache.get(desc);
  if (cached !== undefined) {
    return cached;
  }
  const s = derive(desc);
  cache.set(desc, s);
  return s;
}

function readOption<T>(element: string, file: string, option: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    throw new SpecError(file, element, option, `option (${option.slice(1, -1)}) is malformed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function fileOptions(f: DescFile, element: string): FileOptions | undefined {
  return readOption(element, f.proto.name, "(natsrpc.v1.file)", () => (hasOption(f, fileExt) ? getOption(f, fileExt) : undefined));
}

function serviceOptions(d: DescService): ServiceOptions | undefined {
  return readOption(d.typeName, d.file.proto.name, "(natsrpc.v1.service)", () => (hasOption(d, serviceExt) ? getOption(d, serviceExt) : undefined));
}

/** methodOptions returns the natsrpc method options of m; undefined when unset. */
export function methodOptions(m: DescMethod): MethodOptions | undefined {
  return readOption(`${m.parent.typeName}.${m.name}`, m.parent.file.proto.name, "(natsrpc.v1.method)", () => (hasOption(m, methodExt) ? getOption(m, methodExt) : undefined));
}

function derive(sd: DescService): ServiceSpec {
  const file = sd.file.proto.name;
  const fullName = sd.typeName;
  const fo = fileOptions(sd.file, fullName);
  const so = serviceOptions(sd);
  const errAt = (option: string, problem: string): SpecError => new SpecError(file, fullName, option, problem);

  let prefix = fo?.subjectPrefix ?? "";
  let prefixOpt = "(natsrpc.v1.file).subject_prefix";
  if ((so?.subjectPrefix ?? "") !== "") {
    prefix = so!.subjectPrefix;
    prefixOpt = "(natsrpc.v1.service).subject_prefix";
  }
  if (prefix !== "") {
    const err = validateSubject(prefix);
    if (err !== undefined) {
      throw errAt(prefixOpt, `${JSON.stringify(prefix)}: ${err}`);
    }
  }
  let base = fullName;
  if ((so?.subject ?? "") !== "") {
    const err = validateSubject(so!.subject);
    if (err !== undefined) {
      throw errAt("(natsrpc.v1.service).subject", `${JSON.stringify(so!.subject)}: ${err}`);
    }
    base = so!.subject;
  } else {
    const err = validateSubject(base);
    if (err !== undefined) {
      throw errAt("", `the service's full name ${JSON.stringify(base)} cannot be a NATS subject: ${err}; set (natsrpc.v1.service).subject`);
    }
  }
  if (prefix !== "") {
    base = `${prefix}.${base}`;
  }
  let version = DEFAULT_VERSION;
  if ((so?.version ?? "") !== "") {
    if (!semverRe.test(so!.version)) {
      throw errAt("(natsrpc.v1.service).version", `${JSON.stringify(so!.version)} is not a SemVer version such as "1.2.3"`);
    }
    version = so!.version;
  }
  let queueGroup = DEFAULT_QUEUE_GROUP;
  if ((so?.queueGroup ?? "") !== "") {
    if (so!.noQueueGroup) {
      throw errAt("(natsrpc.v1.service).queue_group", `${JSON.stringify(so!.queueGroup)} is set together with no_queue_group; set one of them`);
    }
    const err = validateToken(so!.queueGroup);
    if (err !== undefined) {
      throw errAt("(natsrpc.v1.service).queue_group", `${JSON.stringify(so!.queueGroup)}: ${err}`);
    }
    queueGroup = so!.queueGroup;
  }
  if (so?.noQueueGroup) {
    queueGroup = "";
  }
  let defaultTimeoutMs = 0;
  if (so?.defaultTimeout !== undefined) {
    const r = positiveDuration(so.defaultTimeout);
    if (typeof r === "string") {
      throw errAt("(natsrpc.v1.service).default_timeout", r);
    }
    defaultTimeoutMs = r / 1e6;
  }
  const methods: MethodSpec[] = [];
  const s: ServiceSpec = {
    desc: sd,
    fullName,
    microName: fullName.replaceAll(".", "_"),
    version,
    subjectBase: base,
    queueGroup,
    defaultTimeoutMs,
    skip: so?.skip ?? false,
    deprecated: sd.deprecated,
    methods,
  };
  const seen = new Map<string, string>();
  for (const md of sd.methods) {
    const m = forMethod(s, md);
    if (!m.skip) {
      const other = seen.get(m.subject);
      if (other !== undefined) {
        throw new SpecError(file, `${fullName}.${md.name}`, "(natsrpc.v1.method).subject",
          `subject ${JSON.stringify(m.subject)} is also used by method ${JSON.stringify(other)}; give one of them another subject`);
      }
      seen.set(m.subject, m.name);
    }
    methods.push(m);
  }
  return s;
}

function forMethod(s: ServiceSpec, md: DescMethod): MethodSpec {
  const file = s.desc.file.proto.name;
  const element = `${s.fullName}.${md.name}`;
  const o = methodOptions(md);
  const errAt = (option: string, problem: string): SpecError => new SpecError(file, element, option, problem);
  let token = md.name;
  if ((o?.subject ?? "") !== "") {
    const err = validateSubject(o!.subject);
    if (err !== undefined) {
      throw errAt("(natsrpc.v1.method).subject", `${JSON.stringify(o!.subject)}: ${err}`);
    }
    token = o!.subject;
  }
  const subject = `${s.subjectBase}.${token}`;
  const serr = validateSubject(subject);
  if (serr !== undefined) {
    throw errAt("(natsrpc.v1.method).subject", `the method's subject ${JSON.stringify(subject)}: ${serr}`);
  }
  let timeoutNs = s.defaultTimeoutMs * 1e6;
  let methodTimeoutNs = 0;
  if (o?.timeout !== undefined) {
    const r = positiveDuration(o.timeout);
    if (typeof r === "string") {
      throw errAt("(natsrpc.v1.method).timeout", r);
    }
    timeoutNs = r;
    methodTimeoutNs = r;
  }
  let kind: MethodKindName;
  switch (md.methodKind) {
    case "bidi_streaming":
      kind = "bidi_stream";
      break;
    case "client_streaming":
      kind = "client_stream";
      break;
    case "server_streaming":
      kind = "server_stream";
      break;
    default:
      kind = "unary";
  }
  let queueGroup = s.queueGroup;
  let delivery: Delivery | undefined;
  let durable: DurableEvent | undefined;
  const optKind = o?.kind ?? OptionKind.UNSPECIFIED;
  switch (optKind) {
    case OptionKind.UNSPECIFIED:
    case OptionKind.REQUEST_REPLY:
      if ((o?.delivery ?? EventDelivery.UNSPECIFIED) !== EventDelivery.UNSPECIFIED) {
        throw errAt("(natsrpc.v1.method).delivery", "only events have a delivery; set kind: METHOD_KIND_EVENT or remove delivery");
      }
      if (o?.durable !== undefined) {
        throw errAt("(natsrpc.v1.method).durable", "only events can be durable; set kind: METHOD_KIND_EVENT or remove durable");
      }
      break;
    case OptionKind.EVENT: {
      if (kind !== "unary") {
        throw errAt("(natsrpc.v1.method).kind", `an event cannot stream; remove "stream" from the method or make it request/reply`);
      }
      if (md.output.typeName !== "google.protobuf.Empty") {
        throw errAt("(natsrpc.v1.method).kind", `an event must return google.protobuf.Empty, not ${JSON.stringify(md.output.typeName)}`);
      }
      kind = "event";
      delivery = "queue";
      if (o!.delivery === EventDelivery.BROADCAST) {
        delivery = "broadcast";
        queueGroup = "";
      }
      if (o!.durable !== undefined) {
        if (delivery === "broadcast") {
          throw errAt("(natsrpc.v1.method).durable", "a durable event is consumed once by a durable consumer and cannot be broadcast; remove delivery or durable");
        }
        const err = validateDurable(o!.durable);
        if (err !== undefined) {
          throw errAt("(natsrpc.v1.method).durable", err);
        }
        durable = o!.durable;
      }
      break;
    }
    default:
      throw errAt("(natsrpc.v1.method).kind", `unknown kind ${optKind}`);
  }
  let idempotency: Idempotency = "unknown";
  if (md.idempotency === 1) {
    idempotency = "no_side_effects";
  } else if (md.idempotency === 2) {
    idempotency = "idempotent";
  }
  return {
    desc: md,
    service: s,
    name: md.name,
    procedure: `/${s.fullName}/${md.name}`,
    subject,
    kind,
    queueGroup,
    timeoutMs: timeoutNs / 1e6,
    timeout: timeoutNs > 0 ? formatGoDuration(timeoutNs) : "",
    methodTimeoutMs: methodTimeoutNs / 1e6,
    idempotency,
    delivery,
    durable,
    skip: s.skip || (o?.skip ?? false),
    deprecated: md.deprecated,
  };
}

function validateDurable(d: DurableEvent): string | undefined {
  if (d.stream !== "" && !streamNameRe.test(d.stream)) {
    return `stream ${JSON.stringify(d.stream)}: use only letters, digits, "_" and "-"`;
  }
  if (d.consumer !== "" && !streamNameRe.test(d.consumer)) {
    return `consumer ${JSON.stringify(d.consumer)}: use only letters, digits, "_" and "-"`;
  }
  if (d.replicas < 0 || d.replicas > 5) {
    return `replicas ${d.replicas}: must be from 1 to 5 (0 means 1)`;
  }
  if (d.maxDeliver < 0) {
    return `max_deliver ${d.maxDeliver}: must not be negative`;
  }
  if (d.maxBytes < 0n) {
    return `max_bytes ${d.maxBytes}: must not be negative`;
  }
  for (const [name, dur] of [["max_age", d.maxAge], ["duplicate_window", d.duplicateWindow], ["ack_wait", d.ackWait]] as const) {
    if (dur === undefined || (dur.seconds === 0n && dur.nanos === 0)) {
      continue;
    }
    const r = positiveDuration(dur);
    if (typeof r === "string") {
      return `${name}: ${r}`;
    }
  }
  for (let i = 0; i < d.backoff.length; i++) {
    const r = positiveDuration(d.backoff[i]!);
    if (typeof r === "string") {
      return `backoff[${i}]: ${r}`;
    }
  }
  return undefined;
}

/**
 * positiveDuration checks a schema duration (positive, at most 24 hours)
 * and returns it in nanoseconds, or the problem.
 */
function positiveDuration(d: Duration): number | string {
  const sec = d.seconds;
  const nanos = d.nanos;
  if (sec < 0n || nanos < 0 || nanos >= 1e9) {
    return `duration {seconds: ${sec}, nanos: ${nanos}} must be positive with nanos below 1e9`;
  }
  if (sec > 86400n) {
    return `duration of ${sec} seconds is longer than 24 hours`;
  }
  const ns = Number(sec) * 1e9 + nanos;
  if (ns <= 0) {
    return "duration must be greater than zero";
  }
  return ns;
}

/** durationNs is a google.protobuf.Duration in nanoseconds (0 for undefined). */
export function durationNs(d: Duration | undefined): number {
  if (d === undefined) {
    return 0;
  }
  return Number(d.seconds) * 1e9 + d.nanos;
}

/**
 * validateSubject returns why s is not a literal subject a service may
 * listen on (wildcards, whitespace, a leading "$", empty tokens, more than
 * 1024 bytes), or undefined.
 */
export function validateSubject(s: string): string | undefined {
  if (s === "") {
    return "subject is empty";
  }
  const n = utf8Length(s);
  if (n > MAX_SUBJECT_LENGTH) {
    return `subject is ${n} bytes long; NATS subjects natsrpc listens on are at most ${MAX_SUBJECT_LENGTH} bytes: shorten it`;
  }
  if (s.startsWith("$")) {
    return `subjects starting with "$" are reserved for NATS`;
  }
  const toks = s.split(".");
  for (let i = 0; i < toks.length; i++) {
    const err = validateToken(toks[i]!);
    if (err !== undefined) {
      return `token ${i + 1}: ${err}`;
    }
  }
  return undefined;
}

/** validateToken returns why tok is not one literal subject token, or undefined. */
export function validateToken(tok: string): string | undefined {
  if (tok === "") {
    return "empty token (two dots in a row, or a leading or trailing dot)";
  }
  for (const ch of tok) {
    const r = ch.codePointAt(0)!;
    if (ch === ".") {
      return `${JSON.stringify(tok)} contains a dot`;
    }
    if (ch === "*" || ch === ">") {
      return `${JSON.stringify(tok)} contains the wildcard '${ch}'`;
    }
    if (r <= 0x20 || r === 0x7f) {
      return `${JSON.stringify(tok)} contains whitespace or a control character`;
    }
  }
  return undefined;
}

/**
 * formatGoDuration prints nanoseconds as Go's time.Duration.String does
 * ("1h2m3.5s", "1m30s", "5s", "1.5ms", "250µs", "10ns"), so that endpoint
 * metadata (natsrpc.timeout) reads the same from either runtime.
 */
export function formatGoDuration(ns: number): string {
  if (ns === 0) {
    return "0s";
  }
  const neg = ns < 0;
  let u = Math.abs(Math.round(ns));
  let out: string;
  if (u < 1e9) {
    if (u < 1e3) {
      out = `${u}ns`;
    } else if (u < 1e6) {
      out = `${frac(u, 3)}µs`;
    } else {
      out = `${frac(u, 6)}ms`;
    }
  } else {
    const nanos = u % 1e9;
    u = (u - nanos) / 1e9;
    const sec = u % 60;
    const secStr = frac(sec * 1e9 + nanos, 9);
    u = (u - sec) / 60;
    if (u === 0) {
      out = `${secStr}s`;
    } else {
      const min = u % 60;
      const h = (u - min) / 60;
      out = h > 0 ? `${h}h${min}m${secStr}s` : `${min}m${secStr}s`;
    }
  }
  return neg ? `-${out}` : out;
}

/** frac prints v / 10^prec with the fraction's trailing zeros dropped. */
function frac(v: number, prec: number): string {
  const p = 10 ** prec;
  const whole = Math.floor(v / p);
  let f = String(v - whole * p).padStart(prec, "0").replace(/0+$/, "");
  return f === "" ? String(whole) : `${whole}.${f}`;
}

/**
 * DurableSettings are what a durable event's client and handlers agree on
 * (wire.md §12.2): the JetStream stream, the durable consumer and the
 * parked-event stream and subject, for a runtime subject prefix.
 */
export interface DurableSettings {
  readonly stream: string;
  readonly consumer: string;
  readonly parkedStream: string;
  readonly parkedSubject: string;
  readonly memoryStorage: boolean;
}

/** durableSettings derives a durable event's names, with the runtime prefix. */
export function durableSettings(m: MethodSpec, prefix: string): DurableSettings {
  const d = m.durable;
  if (d === undefined) {
    throw new Error(`${m.procedure} is not a durable event`);
  }
  const subject = prefix === "" ? m.subject : `${prefix}.${m.subject}`;
  let stream = d.stream;
  if (stream === "") {
    stream = subject.replace(/[^A-Za-z0-9_-]/gu, "_");
  }
  let consumer = d.consumer;
  if (consumer === "") {
    consumer = m.service.microName;
    if (prefix !== "") {
      consumer = `${prefix.replace(/[^A-Za-z0-9_-]/gu, "_")}_${consumer}`;
    }
  }
  return {
    stream,
    consumer,
    parkedStream: `${stream}_DLQ`,
    parkedSubject: `natsrpc.parked.${stream}`,
    memoryStorage: d.storage === StorageType.MEMORY,
  };
}
