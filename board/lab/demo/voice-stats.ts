// A voice flow's receiver accounting: sequence gaps (loss), RFC 3550 §6.4.1 interarrival jitter, one-way delay, silences.
//
// Packets carry a 32-bit sequence number and the sender's CLOCK_MONOTONIC send time in nanoseconds, so
// processes in different network namespaces of one host measure one-way delay on the same clock.

/** Voice-like: 50 packets per second (20 ms frames), 160-octet payloads (G.711 at 64 kbit/s). */
export const VOICE_INTERVAL_MS = 20;
export const VOICE_PAYLOAD_BYTES = 160;
/** A silence at least this long is an outage a listener hears (about 10 lost frames). */
export const AUDIBLE_GAP_MS = 200;

const HEADER_BYTES = 12;
/** Sequence numbers older than this behind the highest are late beyond use (counted as lost, never again as received). */
const REORDER_WINDOW = 1024;

/** Writes the header (sequence ‖ send time in ns) into a payload of VOICE_PAYLOAD_BYTES. */
export function encodeVoicePacket(into: Uint8Array, sequence: number, sentNs: bigint): void {
  const view = new DataView(into.buffer, into.byteOffset, into.byteLength);
  view.setUint32(0, sequence >>> 0);
  view.setBigUint64(4, sentNs);
}

/** The header of a received packet, or undefined if it is too short to be one. */
export function decodeVoicePacket(bytes: Uint8Array): { sequence: number; sentNs: bigint } | undefined {
  if (bytes.byteLength < HEADER_BYTES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { sequence: view.getUint32(0), sentNs: view.getBigUint64(4) };
}

/** What arrived in one reporting interval. */
export interface VoiceInterval {
  /** Unique packets that arrived. */
  readonly received: number;
  /** Sequence numbers the highest seen advanced by: what the sender must have sent meanwhile. */
  readonly expected: number;
  /** expected − received, never below 0 (reordered packets can make an interval look better than it was). */
  readonly lost: number;
  readonly duplicates: number;
  /** RFC 3550 interarrival jitter at the end of the interval, ms. */
  readonly jitterMs: number;
  /** Mean one-way delay of the interval's packets, ms; undefined when none arrived. */
  readonly delayMs: number | undefined;
  /** Longest time without a packet in the interval (including the silence still running at its end), ms. */
  readonly maxGapMs: number;
}

/** A silence of at least AUDIBLE_GAP_MS: when it began (receive clock, ms) and how long it lasted. */
export interface VoiceOutage {
  readonly startMs: number;
  readonly durationMs: number;
}

export class VoiceReceiver {
  #highest = -1;
  #first = -1;
  readonly #seen = new Uint8Array(REORDER_WINDOW);
  #received = 0;
  #duplicates = 0;
  #jitterMs = 0;
  #lastTransitMs: number | undefined;
  #lastArrivalMs: number | undefined;
  // interval accumulators
  #iReceived = 0;
  #iDuplicates = 0;
  #iDelaySum = 0;
  #iMaxGap = 0;
  #iHighestAtStart = -1;
  readonly outages: VoiceOutage[] = [];

  get received(): number {
    return this.#received;
  }

  get duplicates(): number {
    return this.#duplicates;
  }

  /** Highest sequence number seen − first + 1: what the sender sent up to the newest arrival. */
  get expected(): number {
    return this.#highest < 0 ? 0 : this.#highest - this.#first + 1;
  }

  /** One arrival: `arrivalNs` on the same clock as the sender's `sentNs`. */
  handlePacket(sequence: number, sentNs: bigint, arrivalNs: bigint): void {
    const arrivalMs = Number(arrivalNs) / 1e6;
    const transitMs = Number(arrivalNs - sentNs) / 1e6;
    if (this.#highest < 0) {
      this.#first = sequence;
      this.#highest = sequence - 1;
      this.#iHighestAtStart = sequence - 1;
    }
    if (sequence <= this.#highest - REORDER_WINDOW || sequence < this.#first) return; // too late to matter
    const slot = sequence % REORDER_WINDOW;
    if (sequence > this.#highest) {
      for (let s = this.#highest + 1; s <= sequence && s - this.#highest <= REORDER_WINDOW; s++) this.#seen[s % REORDER_WINDOW] = 0;
      this.#highest = sequence;
    } else if (this.#seen[slot] === 1) {
      this.#duplicates++;
      this.#iDuplicates++;
      return;
    }
    this.#seen[slot] = 1;
    this.#received++;
    this.#iReceived++;
    this.#iDelaySum += transitMs;
    // RFC 3550 §6.4.1: J += (|D(i−1,i)| − J) / 16, with D the change of the relative transit time.
    if (this.#lastTransitMs !== undefined) this.#jitterMs += (Math.abs(transitMs - this.#lastTransitMs) - this.#jitterMs) / 16;
    this.#lastTransitMs = transitMs;
    if (this.#lastArrivalMs !== undefined) {
      const gap = arrivalMs - this.#lastArrivalMs;
      this.#iMaxGap = Math.max(this.#iMaxGap, gap);
      if (gap >= AUDIBLE_GAP_MS) this.outages.push({ startMs: this.#lastArrivalMs, durationMs: gap });
    }
    this.#lastArrivalMs = arrivalMs;
  }

  /** At the end of the flow: a silence still running counts as an outage. */
  finish(nowNs: bigint): void {
    if (this.#lastArrivalMs === undefined) return;
    const gap = Number(nowNs) / 1e6 - this.#lastArrivalMs;
    if (gap >= AUDIBLE_GAP_MS) this.outages.push({ startMs: this.#lastArrivalMs, durationMs: gap });
  }

  /** Closes the reporting interval at `nowNs` and starts the next. */
  takeInterval(nowNs: bigint): VoiceInterval {
    const nowMs = Number(nowNs) / 1e6;
    const running = this.#lastArrivalMs === undefined ? 0 : Math.max(0, nowMs - this.#lastArrivalMs);
    const expected = this.#highest < 0 ? 0 : this.#highest - this.#iHighestAtStart;
    const interval: VoiceInterval = {
      received: this.#iReceived,
      expected,
      lost: Math.max(0, expected - this.#iReceived),
      duplicates: this.#iDuplicates,
      jitterMs: this.#jitterMs,
      delayMs: this.#iReceived === 0 ? undefined : this.#iDelaySum / this.#iReceived,
      maxGapMs: Math.max(this.#iMaxGap, running),
    };
    this.#iReceived = 0;
    this.#iDuplicates = 0;
    this.#iDelaySum = 0;
    this.#iMaxGap = 0;
    this.#iHighestAtStart = this.#highest;
    return interval;
  }
}
