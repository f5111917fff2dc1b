// Fetching image ranges over HTTP(S) with Range requests (RFC 9110 §14): 206 + Content-Range checked, body streamed to the caller.

export interface RangeSink {
  /** Image bytes at `offset` (a piece of a range; pieces of one range arrive in order). */
  onData(offset: number, bytes: Uint8Array): void;
  /** `permanent`: the server cannot serve this image (404, 410, 416, wrong size); else retry after a timeout. */
  onError(permanent: boolean, detail: string): void;
}

export interface HttpRangeOptions {
  /** Expected image length: a Content-Range with another complete length is refused. */
  readonly size: number;
  /** Extra CA certificates (PEM) for https:// servers of the fleet's own PKI. */
  readonly ca?: string;
  readonly fetch?: typeof fetch;
}

/** Statuses after which asking again cannot help. */
const PERMANENT = new Set([401, 403, 404, 410, 416]);

/** `bytes 100-199/1000` (RFC 9110 §14.4); undefined when malformed. */
export function parseContentRange(text: string | null): { start: number; end: number; complete: number | undefined } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec((text ?? "").trim());
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const complete = m[3] === "*" ? undefined : Number(m[3]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start || (complete !== undefined && end >= complete)) return undefined;
  return { start, end, complete };
}

/**
 * One HTTP source. Each `request` is one GET with `Range: bytes=first-last`; the body is passed on as it
 * streams. A server that ignores Range (200) is accepted only for a request from offset 0; its body is
 * then cut at the requested length. `cancel()` aborts every request in flight (link change, pause, stop).
 */
export class HttpRangeSource {
  readonly #url: string;
  readonly #options: HttpRangeOptions;
  readonly #sink: RangeSink;
  #controllers = new Set<AbortController>();

  constructor(url: string, options: HttpRangeOptions, sink: RangeSink) {
    this.#url = url;
    this.#options = options;
    this.#sink = sink;
  }

  request(offset: number, length: number): void {
    const controller = new AbortController();
    this.#controllers.add(controller);
    void this.#run(offset, length, controller).finally(() => this.#controllers.delete(controller));
  }

  cancel(): void {
    for (const c of this.#controllers) c.abort();
    this.#controllers.clear();
  }

  async #run(offset: number, length: number, controller: AbortController): Promise<void> {
    const last = offset + length - 1;
    let response: Response;
    try {
      response = await (this.#options.fetch ?? fetch)(this.#url, {
        headers: { Range: `bytes=${offset}-${last}`, "Accept-Encoding": "identity" },
        signal: controller.signal,
        ...(this.#options.ca ? { tls: { ca: this.#options.ca } } : {}),
      } as RequestInit);
    } catch (error) {
      if (!controller.signal.aborted) this.#sink.onError(false, `GET ${this.#url}: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    let start = offset;
    if (response.status === 206) {
      const range = parseContentRange(response.headers.get("content-range"));
      if (!range || range.start !== offset || range.end > last) {
        controller.abort();
        return this.#sink.onError(false, `unexpected Content-Range '${response.headers.get("content-range") ?? ""}' for bytes=${offset}-${last}`);
      }
      if (range.complete !== undefined && range.complete !== this.#options.size) {
        controller.abort();
        return this.#sink.onError(true, `the server's image is ${range.complete} bytes, the job says ${this.#options.size}`);
      }
    } else if (response.status === 200 && offset === 0) {
      start = 0;
    } else {
      controller.abort();
      const ignoresRange = response.status === 200 ? " (the server ignores Range, so the download cannot resume)" : "";
      return this.#sink.onError(PERMANENT.has(response.status) || ignoresRange !== "", `GET ${this.#url} (bytes=${offset}-${last}): HTTP ${response.status}${ignoresRange}`);
    }
    if (!response.body) return;
    let at = start;
    try {
      for await (const piece of response.body as unknown as AsyncIterable<Uint8Array>) {
        const room = last + 1 - at;
        if (room <= 0) break;
        const bytes = piece.length > room ? piece.subarray(0, room) : piece;
        this.#sink.onData(at, bytes);
        at += bytes.length;
      }
    } catch (error) {
      if (!controller.signal.aborted) this.#sink.onError(false, `GET ${this.#url}: body: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      if (at <= last) controller.abort();
    }
  }
}
