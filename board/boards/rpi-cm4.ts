// Board: a Raspberry Pi Compute Module 4 class gateway (USB LTE modem, on-module Wi-Fi, GENET LAN).

import { boardName, type BoardDefinition } from "../api/board.ts";

const MiB = 1024 * 1024;

export const rpiCm4: BoardDefinition = {
  name: boardName("rpi-cm4"),
  description: "Raspberry Pi CM4 carrier: USB LTE (QMI), brcmfmac Wi-Fi, USB WAN Ethernet, GENET LAN, file-based A/B",
  arch: "arm64",
  deviceTreeCompatible: ["raspberrypi,4-compute-module"],
  uplinks: [
    { interface: "wwan0", kind: "lte", driver: "qmi_wwan", modem: { protocol: "qmi", device: "/dev/cdc-wdm0" } },
    { interface: "wlan0", kind: "wifi", driver: "brcmfmac" },
    { interface: "eth1", kind: "ethernet", driver: "r8152" },
  ],
  lan: { interface: "eth0", driver: "bcmgenet" },
  leds: [
    { role: "status", path: "/sys/class/leds/ACT" },
    { role: "fault", path: "/sys/class/leds/PWR" },
  ],
  // bcm2835-wdt cannot time out later than about 15 s.
  watchdog: { device: "/dev/watchdog0", timeoutSeconds: 15 },
  slots: {
    a: { device: "/dev/mmcblk0p5", capacityBytes: 192 * MiB },
    b: { device: "/dev/mmcblk0p6", capacityBytes: 192 * MiB },
  },
  // The stock Raspberry Pi firmware has no boot counter of its own; the launcher keeps one in this file.
  bootSelection: { kind: "file", path: "/var/lib/monami/boot-state" },
  capabilities: ["CAP_NET_ADMIN", "CAP_NET_RAW"],
};
