// rtnetlink link and IPv6 address events (RFC 3549; linux/rtnetlink.h): carrier, operstate and addresses of the uplinks as they change.

import type { Counters } from "../../firmware/core/counters.ts";
import { err, ok, type Result } from "../../firmware/core/result.ts";
import { formatIpv6 } from "../../firmware/wire/address.ts";
import type { OperState } from "../api/link-metrics.ts";
import { bind, close, type Fd, interfaceIndex, SOCK_CLOEXEC, SOCK_RAW, socket } from "./ffi/libc.ts";

const AF_NETLINK = 16;
const NETLINK_ROUTE = 0;
/** Multicast groups (the legacy bit masks of linux/rtnetlink.h): link changes and IPv6 address changes. */
const RTMGRP_LINK = 0x1;
const RTMGRP_IPV6_IFADDR = 0x100;

const NLMSG_HEADER = 16;
const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const IFINFOMSG = 16;
const IFADDRMSG = 8;
const IFLA_IFNAME = 3;
const IFLA_OPERSTATE = 16;
const IFLA_CARRIER = 33;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_FLAGS = 8;
const IFF_UP = 0x1;
const IFF_LOWER_UP = 0x10000;
const AF_INET6 = 10;

/** IFA_F_* flags (linux/if_addr.h) the care-of address choice looks at. */
export const IFA_F_DADFAILED = 0x08;
export const IFA_F_DEPRECATED = 0x20;
export const IFA_F_TENTATIVE = 0x40;

/** RFC 2863 operstates in the kernel's IF_OPER_* order. */
const OPER_STATES: readonly OperState[] = ["unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"];

export type RouteEvent =
  | {
      readonly kind: "link";
      readonly index: number;
      readonly name: string | undefined;
      /** IFF_UP and IFF_LOWER_UP (the driver reports carrier); false on RTM_DELLINK. */
      readonly carrier: boolean;
      readonly operState: OperState | undefined;
      readonly deleted: boolean;
    }
  | {
      readonly kind: "address";
      readonly index: number;
      /** RFC 5952 text. */
      readonly address: string;
      readonly prefixLength: number;
      /** RT_SCOPE_* (0 = global, 253 = link). */
      readonly scope: number;
      /** IFA_F_* (IFA_FLAGS when present: the 32-bit set). */
      readonly flags: number;
      readonly deleted: boolean;
    };

export interface NetlinkError {
  readonly kind: "truncated" | "bad-length";
  readonly at: number;
}

/**
 * Every message in a netlink datagram (or several back to back). Messages other than link and IPv6
 * address ones are skipped; a length that runs past the buffer ends the parse with an error.
 */
export function parseRouteMessages(bytes: Uint8Array): Result<RouteEvent[], NetlinkError> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const events: RouteEvent[] = [];
  let at = 0;
  while (at + NLMSG_HEADER <= bytes.length) {
    const length = view.getUint32(at, true);
    const type = view.getUint16(at + 4, true);
    if (length < NLMSG_HEADER) return err({ kind: "bad-length", at });
    if (at + length > bytes.length) return err({ kind: "truncated", at });
    const body = bytes.subarray(at + NLMSG_HEADER, at + length);
    const event = type === RTM_NEWLINK || type === RTM_DELLINK ? parseLink(body, type === RTM_DELLINK) : type === RTM_NEWADDR || type === RTM_DELADDR ? parseAddress(body, type === RTM_DELADDR) : undefined;
    if (event !== undefined && !event.ok) return err({ kind: event.error.kind, at: at + NLMSG_HEADER + event.error.at });
    if (event?.ok && event.value !== undefined) events.push(event.value);
    at += (length + 3) & ~3;
  }
  return at < bytes.length ? err({ kind: "truncated", at }) : ok(events);
}

/** rtattr chain: (u16 length, u16 type, value, padded to 4). */
function attributes(bytes: Uint8Array, from: number): Result<Map<number, Uint8Array>, NetlinkError> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<number, Uint8Array>();
  let at = from;
  while (at + 4 <= bytes.length) {
    const length = view.getUint16(at, true);
    if (length < 4) return err({ kind: "bad-length", at });
    if (at + length > bytes.length) return err({ kind: "truncated", at });
    out.set(view.getUint16(at + 2, true) & 0x3fff, bytes.subarray(at + 4, at + length));
    at += (length + 3) & ~3;
  }
  return ok(out);
}

function parseLink(body: Uint8Array, deleted: boolean): Result<RouteEvent | undefined, NetlinkError> {
  if (body.length < IFINFOMSG) return err({ kind: "truncated", at: 0 });
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const index = view.getInt32(4, true);
  const flags = view.getUint32(8, true);
  const attrs = attributes(body, IFINFOMSG);
  if (!attrs.ok) return attrs;
  const name = attrs.value.get(IFLA_IFNAME);
  const oper = attrs.value.get(IFLA_OPERSTATE);
  const nul = name?.indexOf(0) ?? -1;
  return ok({
    kind: "link",
    index,
    name: name === undefined ? undefined : new TextDecoder().decode(nul >= 0 ? name.subarray(0, nul) : name),
    carrier: !deleted && (flags & IFF_UP) !== 0 && (flags & IFF_LOWER_UP) !== 0 && attrs.value.get(IFLA_CARRIER)?.[0] !== 0,
    operState: oper === undefined || oper.length < 1 ? undefined : OPER_STATES[oper[0]!],
    deleted,
  });
}

function parseAddress(body: Uint8Array, deleted: boolean): Result<RouteEvent | undefined, NetlinkError> {
  if (body.length < IFADDRMSG) return err({ kind: "truncated", at: 0 });
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (body[0] !== AF_INET6) return ok(undefined);
  const attrs = attributes(body, IFADDRMSG);
  if (!attrs.ok) return attrs;
  const address = attrs.value.get(IFA_LOCAL) ?? attrs.value.get(IFA_ADDRESS);
  if (address === undefined || address.length !== 16) return ok(undefined);
  const wide = attrs.value.get(IFA_FLAGS);
  const flags = wide !== undefined && wide.length >= 4 ? new DataView(wide.buffer, wide.byteOffset, 4).getUint32(0, true) : body[2]!;
  return ok({ kind: "address", index: view.getUint32(4, true), address: formatIpv6(address), prefixLength: body[1]!, scope: body[3]!, flags, deleted });
}

export interface RouteWatch {
  /** Interface index of `name` now (after a rename or re-creation, from the last RTM_NEWLINK naming it). */
  indexOf(name: string): number | undefined;
  close(): void;
}

/**
 * Subscribes to link and IPv6 address changes (RTMGRP_LINK, RTMGRP_IPV6_IFADDR) and hands each one to
 * `onEvent` as the kernel sends it (event-driven: the socket is read by the runtime's own reader, no
 * polling). `interfaces` are resolved to indexes now. Fails when netlink is not available (no socket).
 */
export function watchRouteEvents(interfaces: readonly string[], onEvent: (event: RouteEvent) => void, counters?: Counters): Result<RouteWatch, string> {
  const fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (!fd.ok) return err(`netlink socket: ${fd.error.code}`);
  const address = new Uint8Array(12);
  new DataView(address.buffer).setUint16(0, AF_NETLINK, true);
  new DataView(address.buffer).setUint32(8, RTMGRP_LINK | RTMGRP_IPV6_IFADDR, true);
  const bound = bind(fd.value, address);
  if (!bound.ok) {
    close(fd.value);
    return err(`netlink bind: ${bound.error.code}`);
  }
  const indexes = new Map<string, number>();
  for (const name of interfaces) {
    const i = interfaceIndex(name);
    if (i.ok) indexes.set(name, i.value);
  }
  let closed = false;
  void (async () => {
    try {
      for await (const chunk of Bun.file(fd.value as Fd).stream()) {
        if (closed) break;
        const parsed = parseRouteMessages(chunk);
        if (!parsed.ok) {
          counters?.increment(`board.netlink.${parsed.error.kind}`);
          continue;
        }
        for (const e of parsed.value) {
          if (e.kind === "link" && e.name !== undefined && !e.deleted) indexes.set(e.name, e.index);
          onEvent(e);
        }
      }
    } catch {
      if (!closed) counters?.increment("board.netlink.read-failed");
    }
  })();
  return ok({
    indexOf: (name) => indexes.get(name),
    close() {
      if (closed) return;
      closed = true;
      close(fd.value);
    },
  });
}
