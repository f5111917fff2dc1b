// Host networking around a daemon's tunnel interface, through iproute2 and nftables: set up at start, undone at shutdown.

/** One command; `undo` lines run at shutdown in reverse order, failures there are ignored. */
export interface HostStep {
  readonly argv: readonly string[];
  readonly input?: string;
}

/**
 * Drops, before the kernel's own IPv6 processing, the ESP (or, `auth-option`, plain Mobility Header)
 * packets that carry a Routing header or Destination Options first: the Mobility signalling (BU with a
 * Home Address option, BA with a Type 2 routing header) that our packet socket has already taken. Without
 * CONFIG_IPV6_MIP6 the kernel would otherwise answer each with an ICMPv6 Parameter Problem (RFC 8200 §4.2, §4.4), in clear.
 */
export function signallingFilter(table: string): { up: HostStep; down: HostStep } {
  const ruleset = [
    `table inet ${table} {`,
    "  chain mobility-signalling {",
    "    type filter hook prerouting priority -400; policy accept;",
    "    ip6 nexthdr { 43, 60 } meta l4proto { esp, 135 } counter drop",
    "  }",
    "}",
    "",
  ].join("\n");
  return { up: { argv: ["nft", "-f", "-"], input: ruleset }, down: { argv: ["nft", "delete", "table", "inet", table] } };
}

/** The mobile router: tunnel up with its MTU, and everything from the LAN interface routed into it. */
export function routerSteps(o: { tun: string; mtu: number; lanInterface: string; table: number }): { up: HostStep[]; down: HostStep[] } {
  const filter = signallingFilter("monami-router");
  return {
    up: [
      // No link-local address on the tunnel: nothing of the kernel's own (MLD, RS) enters the SPD.
      { argv: ["ip", "link", "set", "dev", o.tun, "addrgenmode", "none"] },
      { argv: ["ip", "link", "set", "dev", o.tun, "mtu", String(o.mtu), "up"] },
      { argv: ["ip", "-6", "route", "replace", "default", "dev", o.tun, "table", String(o.table)] },
      { argv: ["ip", "-6", "rule", "add", "iif", o.lanInterface, "lookup", String(o.table), "pref", "100"] },
      filter.up,
    ],
    down: [filter.down, { argv: ["ip", "-6", "rule", "del", "iif", o.lanInterface, "lookup", String(o.table), "pref", "100"] }],
  };
}

/** The home agent: tunnel up, the home addresses and mobile network prefixes routed into it (RFC 3963 §6.3). */
export function homeAgentSteps(o: { tun: string; mtu: number; routes: readonly string[] }): { up: HostStep[]; down: HostStep[] } {
  const filter = signallingFilter("monami-homeagent");
  return {
    up: [
      { argv: ["ip", "link", "set", "dev", o.tun, "addrgenmode", "none"] },
      { argv: ["ip", "link", "set", "dev", o.tun, "mtu", String(o.mtu), "up"] },
      ...o.routes.map((r) => ({ argv: ["ip", "-6", "route", "replace", r, "dev", o.tun] })),
      filter.up,
    ],
    down: [filter.down],
  };
}

/** Runs steps in order; throws on the first failure with its stderr. */
export async function runSteps(steps: readonly HostStep[]): Promise<void> {
  for (const step of steps) {
    const r = await runStep(step);
    if (r.code !== 0) throw new Error(`${step.argv.join(" ")}: ${r.stderr.trim()}`);
  }
}

/** Runs undo steps, ignoring failures (the tunnel interface may already be gone with its routes). */
export async function undoSteps(steps: readonly HostStep[]): Promise<void> {
  for (const step of steps) await runStep(step);
}

async function runStep(step: HostStep): Promise<{ code: number; stderr: string }> {
  const proc = Bun.spawn([...step.argv], {
    stdin: step.input === undefined ? "ignore" : new TextEncoder().encode(step.input),
    stdout: "ignore",
    stderr: "pipe",
  });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  return { code, stderr };
}
