// The link emulator's configuration file and its JSON-lines control channel (requests on stdin, replies on stdout).

import * as v from "valibot";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import type { LinkProfile } from "./profiles.ts";

const probability = v.pipe(v.number(), v.minValue(0), v.maxValue(1));
const nonNegative = v.pipe(v.number(), v.minValue(0), v.finite());

const PathProfileSchema = v.strictObject({
  delayMs: nonNegative,
  jitterMs: nonNegative,
  lossProbability: probability,
  rateBitsPerSecond: nonNegative,
  burstBytes: nonNegative,
  queueBytes: nonNegative,
  reorderProbability: probability,
});

export const LinkProfileSchema = v.strictObject({ uplink: PathProfileSchema, downlink: PathProfileSchema });

const interfaceName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,15}$/));
const linkName = v.pipe(v.string(), v.regex(/^[a-z0-9-]{1,15}$/));

const EmulatedLinkSchema = v.strictObject({
  name: linkName,
  /** TUN carrying packets from the mobile router towards the network (read, delayed, written back). */
  uplinkTun: interfaceName,
  /** TUN carrying packets from the network towards the mobile router. */
  downlinkTun: interfaceName,
  profile: LinkProfileSchema,
});

export const EmulatorConfigSchema = v.strictObject({
  links: v.pipe(v.array(EmulatedLinkSchema), v.minLength(1)),
  /** Seed of the emulator's loss, jitter and reorder draws. */
  seed: v.pipe(v.number(), v.integer()),
  /** Preallocated packet buffers (each `slotBytes`); when all are in use new packets are dropped. */
  slots: v.pipe(v.number(), v.integer(), v.minValue(16)),
  slotBytes: v.pipe(v.number(), v.integer(), v.minValue(1280), v.maxValue(65536)),
});

export type EmulatorConfig = v.InferOutput<typeof EmulatorConfigSchema>;
export type EmulatedLink = v.InferOutput<typeof EmulatedLinkSchema>;

const id = v.pipe(v.number(), v.integer());

export const EmulatorRequestSchema = v.variant("op", [
  v.strictObject({ id, op: v.literal("set-profile"), link: linkName, profile: LinkProfileSchema }),
  /** Drop everything in both directions (blackhole, or the radio side of a carrier loss). */
  v.strictObject({ id, op: v.literal("cut"), link: linkName }),
  v.strictObject({ id, op: v.literal("restore"), link: linkName }),
  v.strictObject({ id, op: v.literal("counters") }),
  v.strictObject({ id, op: v.literal("quit") }),
]);

export type EmulatorRequest = v.InferOutput<typeof EmulatorRequestSchema>;
/** A request as the client writes it (the id is added by the client). */
export type EmulatorCommand = EmulatorRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

/** What the emulator reports: counters by name (`<link>.<uplink|downlink>.<what>`) and its own resource use. */
export interface EmulatorCounters {
  readonly counters: Readonly<Record<string, number>>;
  /** CPU time the emulator has used since it started, in microseconds. */
  readonly cpuUserMicros: number;
  readonly cpuSystemMicros: number;
  readonly uptimeMs: number;
}

export type EmulatorReply =
  | { readonly id: number; readonly ok: true; readonly counters?: EmulatorCounters }
  | { readonly id: number; readonly ok: false; readonly error: string };

/** Lines the emulator prints that are not replies. */
export type EmulatorEvent = { readonly event: "ready"; readonly pid: number } | { readonly event: "error"; readonly error: string };

function issuesText(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues.map((i) => `${v.getDotPath(i) ?? "(root)"}: ${i.message}`).join("; ");
}

export function parseEmulatorConfig(json: unknown): Result<EmulatorConfig, string> {
  const r = v.safeParse(EmulatorConfigSchema, json);
  return r.success ? ok(r.output) : err(issuesText(r.issues));
}

export function parseLinkProfile(json: unknown): Result<LinkProfile, string> {
  const r = v.safeParse(LinkProfileSchema, json);
  return r.success ? ok(r.output) : err(issuesText(r.issues));
}

/** Parses one control line; never throws. */
export function parseEmulatorRequest(line: string): Result<EmulatorRequest, string> {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return err("not JSON");
  }
  const r = v.safeParse(EmulatorRequestSchema, json);
  return r.success ? ok(r.output) : err(issuesText(r.issues));
}
