// The demo report as one self-contained HTML page: summary table, SVG charts over time, handovers, fleet messages, events.

import { type AccessLinkName, ACCESS_LINKS } from "../../topology.ts";
import type { DemoReport, Sample } from "../timeline.ts";
import { type Band, escapeXml, laneChart, type Lane, lineChart, type Marker } from "./svg-chart.ts";

const COLORS: Record<AccessLinkName, string> = { lte: "#2563eb", wifi: "#ea580c" };
const HANDOVER = "#7c3aed";
const SCENE_SHADES = ["rgba(148,163,184,0.10)", "rgba(148,163,184,0.22)"];

const esc = escapeXml;
const sec = (ms: number) => ms / 1000;

function sceneBands(report: DemoReport, xMax: number): Band[] {
  const scenes = report.meta.scenes;
  return scenes.map((s, i) => ({
    from: sec(s.startMs),
    to: i + 1 < scenes.length ? sec(scenes[i + 1]!.startMs) : xMax,
    color: SCENE_SHADES[i % 2]!,
    label: `${i + 1}. ${s.title}`,
  }));
}

function cutBands(samples: readonly Sample[], link: AccessLinkName): Band[] {
  const bands: Band[] = [];
  let from: number | undefined;
  for (const s of samples) {
    const cut = s.uplinks[link].emulator !== "ok";
    if (cut && from === undefined) from = sec(s.tMs);
    if (!cut && from !== undefined) {
      bands.push({ from, to: sec(s.tMs), color: link === "lte" ? "rgba(37,99,235,0.12)" : "rgba(234,88,12,0.12)" });
      from = undefined;
    }
  }
  if (from !== undefined && samples.length > 0) bands.push({ from, to: sec(samples[samples.length - 1]!.tMs), color: link === "lte" ? "rgba(37,99,235,0.12)" : "rgba(234,88,12,0.12)" });
  return bands;
}

/** Spans where `test` holds over consecutive samples. */
function spans(samples: readonly Sample[], test: (s: Sample) => boolean): { from: number; to: number }[] {
  const out: { from: number; to: number }[] = [];
  let from: number | undefined;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    if (test(s) && from === undefined) from = sec(s.tMs);
    if (!test(s) && from !== undefined) {
      out.push({ from, to: sec(s.tMs) });
      from = undefined;
    }
  }
  if (from !== undefined && samples.length > 0) out.push({ from, to: sec(samples[samples.length - 1]!.tMs) });
  return out;
}

function markers(report: DemoReport): Marker[] {
  return report.handovers.map((h, i) => ({ at: sec(h.tMs), label: `H${i + 1}`, color: HANDOVER }));
}

function charts(report: DemoReport): string[] {
  const s = report.samples;
  const xMax = Math.max(report.meta.durationSeconds, s.length > 0 ? sec(s[s.length - 1]!.tMs) : 1);
  const scenes = sceneBands(report, xMax);
  const m = markers(report);
  const series = (name: string, color: string, value: (x: Sample) => number | undefined, extra: { step?: boolean; dashed?: boolean } = {}) => ({
    name,
    color,
    points: s.map((x) => [sec(x.tMs), value(x)] as const),
    ...extra,
  });
  const label = (l: AccessLinkName) => `${l} (${report.meta.uplinks[l].label})`;
  const out: string[] = [];
  out.push(
    lineChart({
      title: "Radio: LTE RSRP / Wi-Fi signal (from the drive trace; gaps = no service or not associated)",
      unit: "dBm",
      xMax,
      yMin: -130,
      yMax: -40,
      clamp: true,
      bands: scenes,
      markers: m,
      series: ACCESS_LINKS.map((l) => series(label(l), COLORS[l], (x) => x.uplinks[l].rsrpDbm ?? x.uplinks[l].signalDbm)),
    }),
  );
  const rttMax = Math.min(1000, Math.max(100, ...s.flatMap((x) => ACCESS_LINKS.map((l) => x.uplinks[l].rttMs ?? 0))));
  out.push(
    lineChart({
      title: "Path round-trip time the emulator applies (shaded: link cut)",
      unit: "ms",
      xMax,
      yMin: 0,
      yMax: rttMax,
      clamp: true,
      bands: [...cutBands(s, "lte"), ...cutBands(s, "wifi")],
      markers: m,
      series: ACCESS_LINKS.map((l) => series(label(l), COLORS[l], (x) => x.uplinks[l].rttMs, { step: true })),
    }),
  );
  out.push(
    lineChart({
      title: "Path loss the emulator applies",
      unit: "%",
      xMax,
      yMin: 0,
      yMax: Math.max(5, Math.min(100, Math.ceil(Math.max(0, ...s.flatMap((x) => ACCESS_LINKS.map((l) => x.uplinks[l].lossPercent ?? 0))) / 5) * 5)),
      bands: scenes,
      markers: m,
      series: ACCESS_LINKS.map((l) => series(label(l), COLORS[l], (x) => x.uplinks[l].lossPercent, { step: true })),
    }),
  );
  const lanes: Lane[] = ACCESS_LINKS.map((l) => ({
    label: `${l} ${report.meta.uplinks[l].careOfAddress}`,
    spans: [
      ...spans(s, (x) => x.uplinks[l].binding !== undefined).map((p) => ({ ...p, color: "rgba(100,116,139,0.25)", height: 22 })),
      ...spans(s, (x) => x.uplinks[l].atHomeAgent).map((p) => ({ ...p, color: "rgba(124,58,237,0.45)", height: 14 })),
      ...spans(s, (x) => x.active === l).map((p) => ({ ...p, color: COLORS[l], height: 6 })),
    ],
  }));
  out.push(
    laneChart({
      title: "Care-of addresses: registered by the router, in the home agent's binding cache, carrying traffic",
      xMax,
      bands: scenes,
      markers: m,
      lanes,
      legend: [
        { label: "binding (router)", color: "rgba(100,116,139,0.25)" },
        { label: "home agent's cache", color: "rgba(124,58,237,0.45)" },
        { label: "carrying traffic", color: "#0f172a" },
      ],
    }),
  );
  const goodMax = Math.max(1, ...s.map((x) => x.downloadMbps), ...s.flatMap((x) => ACCESS_LINKS.map((l) => x.uplinks[l].downMbps)));
  out.push(
    lineChart({
      title: "Goodput: the TCP download at the LAN host, and each uplink's downstream traffic (ESP, through the emulator)",
      unit: "Mbit/s",
      xMax,
      yMin: 0,
      yMax: Math.ceil(goodMax),
      bands: scenes,
      markers: m,
      series: [series("download cn → lan", "#059669", (x) => x.downloadMbps), ...ACCESS_LINKS.map((l) => series(`${l} ↓`, COLORS[l], (x) => x.uplinks[l].downMbps, { dashed: true }))],
    }),
  );
  out.push(
    lineChart({
      title: "Voice loss per half second (either direction)",
      unit: "% lost",
      xMax,
      yMin: 0,
      yMax: 100,
      clamp: true,
      bands: scenes,
      markers: m,
      series: [series("voice ↑ lan → cn", "#0891b2", (x) => x.voice.up?.lossPercent), series("voice ↓ cn → lan", "#be185d", (x) => x.voice.down?.lossPercent)],
    }),
  );
  const delayMax = Math.min(1500, Math.max(100, ...s.flatMap((x) => [x.voice.up?.delayMs ?? 0, x.voice.down?.delayMs ?? 0])));
  out.push(
    lineChart({
      title: "Voice one-way delay (mean per half second)",
      unit: "ms",
      xMax,
      yMin: 0,
      yMax: Math.ceil(delayMax / 50) * 50,
      clamp: true,
      bands: scenes,
      markers: m,
      series: [series("voice ↑ lan → cn", "#0891b2", (x) => x.voice.up?.delayMs), series("voice ↓ cn → lan", "#be185d", (x) => x.voice.down?.delayMs)],
    }),
  );
  return out;
}

function table(head: readonly string[], rows: readonly (readonly string[])[], cls = ""): string {
  const thead = head.every((h) => h === "") ? "" : `<thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead>`;
  return `<table class="${cls}">${thead}<tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

const clock = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#0f172a;background:#f8fafc;margin:0}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid #e2e8f0;padding-bottom:4px}
.sub{color:#475569;margin:0 0 16px}.card{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:12px 16px;margin:12px 0}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eef2f7;vertical-align:top}
th{color:#475569;font-weight:600;background:#f1f5f9}table.summary td:first-child{width:270px;color:#334155;font-weight:600}
.ok{color:#047857;font-weight:600}.bad{color:#b91c1c;font-weight:600}.note{background:#fffbeb;border-color:#fde68a}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;background:#eef2ff;color:#3730a3;font-size:12px;margin-right:6px}
svg{display:block;margin:6px 0 2px}svg text{font:11px system-ui,sans-serif;fill:#334155}svg .ct{font-weight:600;font-size:12px;fill:#0f172a}
svg .yl{text-anchor:end}svg .xl{text-anchor:middle;fill:#64748b}svg .grid{stroke:#e2e8f0}svg .axis{stroke:#94a3b8}
svg .bl{fill:#64748b;font-size:10px}svg .ml{font-weight:700;text-anchor:middle;font-size:10px}svg .unit{text-anchor:middle;fill:#64748b}
pre{background:#0f172a;color:#e2e8f0;padding:10px 12px;border-radius:6px;font:12px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace;overflow-x:auto;max-height:420px}
details summary{cursor:pointer;color:#334155;font-weight:600;margin:8px 0}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:12px}
`;

/** The whole page; nothing is fetched when it is opened (no scripts, fonts or images from elsewhere). */
export function renderReportHtml(report: DemoReport): string {
  const m = report.meta;
  const check = report.uplinkCheck;
  const parts: string[] = [];
  parts.push(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`);
  parts.push(`<title>monami demo: ${esc(m.scenario)} · ${esc(m.mode)}</title><style>${STYLE}</style></head><body><main>`);
  parts.push(`<h1>monami demo — ${esc(m.scenario)}</h1>`);
  parts.push(`<p class="sub">${esc(m.description)}</p>`);
  parts.push(
    `<p><span class="pill">mode ${esc(m.mode)}</span><span class="pill">${m.durationSeconds} s ×${m.speed.toFixed(1)}</span><span class="pill">${esc(m.startedAt.replace("T", " ").slice(0, 19))} UTC</span>` +
      (check ? `<span class="pill">${check.ok ? "no plaintext on the uplinks" : "PLAINTEXT on the uplinks"}</span>` : "") +
      `</p>`,
  );
  if (m.modeNote) parts.push(`<div class="card note">${esc(m.modeNote)}</div>`);
  parts.push(`<h2>Summary</h2>`);
  parts.push(`<div class="card">${table(["", ""], report.summary.map((r) => [r.label, r.value]), "summary")}</div>`);
  parts.push(`<h2>Per flow</h2>`);
  parts.push(
    `<div class="card">${table(
      ["flow", "sent", "received", "lost", "outages", "outage time", "longest", "jitter (mean)", "delay (median)", "goodput (mean)"],
      report.flows.map((f) => [
        f.name,
        f.meanGoodputMbps !== undefined ? `${(f.sent / 1e6).toFixed(1)} MB` : String(f.sent),
        f.meanGoodputMbps !== undefined ? `${(f.received / 1e6).toFixed(1)} MB` : String(f.received),
        f.meanGoodputMbps !== undefined ? "—" : `${f.lost} (${f.lossPercent.toFixed(2)} %)`,
        String(f.outages),
        `${f.outageSeconds.toFixed(1)} s`,
        `${f.longestOutageMs.toFixed(0)} ms`,
        f.meanJitterMs === undefined ? "—" : `${f.meanJitterMs.toFixed(1)} ms`,
        f.medianDelayMs === undefined ? "—" : `${f.medianDelayMs.toFixed(0)} ms`,
        f.meanGoodputMbps === undefined ? "—" : `${f.meanGoodputMbps.toFixed(2)} Mbit/s`,
      ]),
    )}<p class="sub">Voice: 50 packets/s of 160 octets each way, sequence-numbered; an outage is a silence of at least 200 ms. Download: TCP, paced by the server; an outage is a second or more without a byte.</p></div>`,
  );
  parts.push(`<h2>Over time</h2><div class="card">`);
  parts.push(`<p class="sub">Shaded columns are the drive's scenes; dashed purple lines are handovers (H1, H2, … in the table below). Time is seconds since the drive began.</p>`);
  parts.push(charts(report).join(""));
  parts.push(`</div>`);
  parts.push(`<h2>Handovers</h2><div class="card">`);
  parts.push(
    report.handovers.length === 0
      ? `<p>No handover happened.</p>`
      : table(
          ["#", "at", "from → to", "rule", "why", "home agent updated", "voice gap"],
          report.handovers.map((h, i) => [
            `H${i + 1}`,
            clock(h.tMs),
            `${h.from ?? "none"} → ${h.to}`,
            h.rule,
            h.reason,
            h.homeAgentMs === undefined ? "—" : `+${h.homeAgentMs - h.tMs} ms`,
            h.voiceGapMs ? `${h.voiceGapMs.toFixed(0)} ms` : "none",
          ]),
        ),
  );
  parts.push(`</div>`);
  parts.push(`<h2>Fleet view (mosquitto_sub -v -t 'monami/#')</h2><div class="card">`);
  if (report.fleetMessages.length === 0) {
    parts.push(
      `<p>${m.fleet ? `The broker ran (${esc(m.fleet)}) but no message arrived under <code>monami/</code>: this router build publishes no fleet telemetry in the lab (it needs a device configuration with an <code>mqtt</code> section).` : "No Mosquitto here: the fleet view was off (scripts/setup.sh installs it)."}</p>`,
    );
  } else {
    parts.push(`<p class="sub">What a fleet back-end subscribed to <code>monami/#</code> received (${report.fleetMessages.length} messages; the newest 200 shown).</p>`);
    parts.push(`<pre>${report.fleetMessages.slice(-200).map((f) => esc(`${clock(f.tMs).padStart(8)}  ${f.topic} ${f.payload.length > 400 ? `${f.payload.slice(0, 400)}…` : f.payload}`)).join("\n")}</pre>`);
  }
  parts.push(`</div>`);
  parts.push(`<h2>Set-up</h2><div class="card">`);
  parts.push(
    table(
      ["", ""],
      [
        ["Daemons", m.daemons],
        ["Link selection", m.steering],
        ["Keys", m.keying],
        ["Home agent / home address", `${m.homeAgent} / ${m.homeAddress}`],
        ["Mobile network prefix", m.mobileNetworkPrefix],
        ...ACCESS_LINKS.map((l) => [`Uplink ${l}`, `${m.uplinks[l].label} (${m.uplinks[l].kind}), care-of address ${m.uplinks[l].careOfAddress}`]),
        ...m.scenes.map((s, i) => [`Scene ${i + 1} at ${clock(s.startMs)}`, `${s.title}: ${s.caption}`]),
      ],
      "summary",
    ),
  );
  if (check) {
    parts.push(
      `<p class="${check.ok ? "ok" : "bad"}">Uplink capture (${check.mode}): ${check.packets} packets; ${check.betweenCareOfAndHomeAgent} between a care-of address and the home agent, ${check.protectedPackets} of them ESP/IKE; ${check.plaintext} showing an inner address or a Mobility Header in clear.</p>`,
    );
  }
  parts.push(`</div>`);
  parts.push(`<h2>Events</h2><details><summary>${report.events.length} events (scenes, link changes, decisions, handovers, fleet messages)</summary>`);
  parts.push(`<pre>${report.events.map((e) => esc(`${clock(e.tMs).padStart(8)}  ${e.kind.padEnd(8)} ${e.text}`)).join("\n")}</pre></details>`);
  parts.push(`<details><summary>${report.decisions.length} link-policy decision records</summary>`);
  parts.push(`<pre>${report.decisions.map((d) => esc(`${clock(d.tMs).padStart(8)}  ${d.rule.padEnd(16)} ${d.summary}`)).join("\n")}</pre></details>`);
  parts.push(`<p class="sub">The same figures as JSON sit beside this file (format monami-demo-report v1).</p>`);
  parts.push(`</main></body></html>\n`);
  return parts.join("");
}
