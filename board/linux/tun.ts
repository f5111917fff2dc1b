// A Linux layer-3 TUN device without packet-information header (IFF_TUN | IFF_NO_PI) on /dev/net/tun.

import { err, ok } from "../../firmware/core/result.ts";
import {
  close,
  type Fd,
  ioctl,
  ioctlValue,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  open,
  read,
  type SysResult,
  write,
} from "./ffi/libc.ts";

/** _IOW('T', 202, int) from <linux/if_tun.h>. */
const TUNSETIFF = 0x400454ca;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
const IFF_VNET_HDR = 0x4000;
/** _IOW('T', 208, unsigned int) from <linux/if_tun.h>. */
const TUNSETOFFLOAD = 0x400454d0;
/** TUNSETOFFLOAD flags: the kernel may hand over (and accepts) partial checksums and TCP segments up to 64 KiB. */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
/** sizeof(struct ifreq) on 64-bit Linux: 16-byte name + 24-byte union; the flags short sits at offset 16. */
const IFREQ_SIZE = 40;
const IFNAMSIZ = 16;

export interface TunOpenOptions {
  /** Open with O_NONBLOCK: `read` then fails with EAGAIN instead of waiting (use with `poll`). */
  readonly nonBlocking?: boolean;
  /**
   * IFF_VNET_HDR: every read and write starts with a 10-octet struct virtio_net_hdr (GSO type and size,
   * partial-checksum offsets). With `offload` (TUN_F_* flags, TUNSETOFFLOAD) the kernel may then pass
   * large TCP segments and unfinished checksums; without it every packet arrives whole and checksummed.
   */
  readonly vnetHeader?: boolean;
  readonly offload?: number;
}

/**
 * One queue of a TUN device. Each `read` returns exactly one IPv4 or IPv6 packet; each `write`
 * injects one packet as if it had been received on the interface (the kernel tells the family by
 * the version nibble, since there is no packet-information header).
 */
export class TunDevice {
  readonly #fd: Fd;
  #open = true;

  private constructor(
    fd: Fd,
    readonly name: string,
  ) {
    this.#fd = fd;
  }

  /**
   * Attaches to the TUN interface `name` in the caller's network namespace, creating it (non-persistent)
   * if it does not exist. A name with `%d` lets the kernel pick the number; the chosen name is returned.
   */
  static open(name: string, options: TunOpenOptions = {}): SysResult<TunDevice> {
    const encoded = new TextEncoder().encode(name);
    if (encoded.length === 0 || encoded.length >= IFNAMSIZ) {
      return err({ call: "open-tun", errno: 22, code: "EINVAL" });
    }
    const fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | (options.nonBlocking ? O_NONBLOCK : 0));
    if (!fd.ok) return fd;
    const ifreq = new Uint8Array(IFREQ_SIZE);
    ifreq.set(encoded, 0);
    new DataView(ifreq.buffer).setUint16(IFNAMSIZ, IFF_TUN | IFF_NO_PI | (options.vnetHeader ? IFF_VNET_HDR : 0), true);
    const set = ioctl(fd.value, TUNSETIFF, ifreq);
    if (!set.ok) {
      close(fd.value);
      return set;
    }
    if (options.vnetHeader && options.offload !== undefined) {
      const offload = ioctlValue(fd.value, TUNSETOFFLOAD, options.offload);
      if (!offload.ok) {
        close(fd.value);
        return offload;
      }
    }
    const end = ifreq.indexOf(0);
    const chosen = new TextDecoder().decode(ifreq.subarray(0, end < 0 || end > IFNAMSIZ ? IFNAMSIZ : end));
    return ok(new TunDevice(fd.value, chosen));
  }

  get fd(): Fd {
    return this.#fd;
  }

  /** Reads one packet into `into`; resolves to its length (EAGAIN when non-blocking and none is queued). */
  read(into: Uint8Array): SysResult<number> {
    return read(this.#fd, into);
  }

  /** Injects one whole packet. */
  write(packet: Uint8Array): SysResult<number> {
    return write(this.#fd, packet);
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    close(this.#fd);
  }
}
