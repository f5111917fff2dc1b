// Board: a generic ARM64 vehicle gateway (two cellular modems, Wi-Fi, WAN Ethernet) booting through U-Boot.

import { boardName, type BoardDefinition } from "../api/board.ts";

const MiB = 1024 * 1024;

export const genericArm64Gateway: BoardDefinition = {
  name: boardName("generic-arm64-gateway"),
  description: "Generic ARM64 gateway: 2x LTE (QMI, MBIM), Wi-Fi client, WAN + LAN Ethernet, U-Boot A/B",
  arch: "arm64",
  // `linux,dummy-virt` is QEMU's `virt` machine, so the same image boots in qemu-system-aarch64.
  deviceTreeCompatible: ["monami,generic-arm64-gateway", "linux,dummy-virt"],
  uplinks: [
    { interface: "wwan0", kind: "lte", driver: "qmi_wwan", modem: { protocol: "qmi", device: "/dev/cdc-wdm0" } },
    { interface: "wwan1", kind: "lte", driver: "cdc_mbim", modem: { protocol: "mbim", device: "/dev/cdc-wdm1" } },
    { interface: "wlan0", kind: "wifi", driver: "mt7921u" },
    { interface: "eth1", kind: "ethernet", driver: "r8152" },
  ],
  lan: { interface: "eth0", driver: "stmmac" },
  leds: [
    { role: "status", path: "/sys/class/leds/gateway:green:status" },
    { role: "uplink", path: "/sys/class/leds/gateway:blue:uplink" },
    { role: "ota", path: "/sys/class/leds/gateway:amber:ota" },
    { role: "fault", path: "/sys/class/leds/gateway:red:fault" },
  ],
  watchdog: { device: "/dev/watchdog0", timeoutSeconds: 30 },
  slots: {
    a: { device: "/dev/mmcblk0p5", capacityBytes: 256 * MiB },
    b: { device: "/dev/mmcblk0p6", capacityBytes: 256 * MiB },
  },
  bootSelection: { kind: "uboot-env", configFile: "/etc/fw_env.config" },
  capabilities: ["CAP_NET_ADMIN", "CAP_NET_RAW"],
};
