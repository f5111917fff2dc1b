// Config documents for the power-loss test: valid, version-tagged in device.site, and large (padded with whitespace).

export function configText(n: number): string {
  const config = {
    device: { id: "bus-1", site: `v${n}` },
    uplinks: [{ id: "lte1", driver: { kind: "ethernet", interface: "eth0" } }],
    ipsec: { auth: { method: "psk", psk: { ref: "file:/etc/monami/psk" } } },
    mobility: { homeAddress: "2001:db8:0:1::42", homeAgent: "2001:db8:0:1::1", mobileNetworkPrefixes: ["2001:db8:42::/48"] },
    mqtt: { url: "mqtts://fleet.example.net:8883" },
  };
  // ~256 KiB of insignificant whitespace so a write takes many system calls.
  return JSON.stringify(config, null, 2).replace("{", `{${" ".repeat(256 * 1024)}`);
}
