// The table of `monami` subcommands. Each lives in its own module and is loaded only when run.

import type { Command } from "./command.ts";

export const commands: readonly Command[] = [
  { name: "lab", summary: "network-namespace lab: up, smoke, perf, down, sweep", load: () => import("./lab.ts") },
  { name: "image", summary: "OTA images: keygen, build (signed), inspect (verify)", load: () => import("./image.ts") },
  { name: "flash", summary: "write a signed image to a device or file (technician tool)", load: () => import("./flash.ts") },
  { name: "ota", summary: "A/B and OTA state: status, install IMAGE, mark-good (technician)", load: () => import("./ota.ts") },
  { name: "config", summary: "device configuration: validate FILE, schema (JSON Schema), example", load: () => import("./config.ts") },
  { name: "status", summary: "local status from the running device (links, bindings, SAs, MQTT)", load: () => import("./status.ts") },
  { name: "mip6", summary: "Mobility Header tools: decode HEX (JSON), selftest-pcap FILE (tshark oracle)", load: () => import("./mip6.ts") },
  { name: "ipsec", summary: "ESP: suites and backends, selftest-pcap PCAP KEYS (tshark oracle with esp_sa keys)", load: () => import("./ipsec.ts") },
  { name: "ike", summary: "IKEv2: probe a peer once (JSON result), or respond as a debug responder", load: () => import("./ike.ts") },
  { name: "router", summary: "mobile router daemon: run CONFIG, ctl SOCKET status|counters|uplink ID", load: () => import("./router.ts") },
  { name: "homeagent", summary: "home agent daemon: run CONFIG, ctl SOCKET status|counters", load: () => import("./homeagent.ts") },
  { name: "demo", summary: "the lab demo: a vehicle between LTE and Wi-Fi, live view and HTML report", load: () => import("./demo.ts") },
];
