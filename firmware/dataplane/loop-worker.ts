// Worker entry of the packet loop: blocking batched I/O off the main thread; control arrives by postMessage.

import { LoopHost } from "./loop-host.ts";
import type { ToLoop } from "./loop-protocol.ts";

declare const self: Worker;

const host = new LoopHost((message) => self.postMessage(message));
let queue = Promise.resolve();

self.onmessage = (event: MessageEvent<ToLoop>) => {
  const message = event.data;
  // `start` resolves when the loop runs; the loop itself keeps running in the background of this worker.
  queue = queue.then(() => host.handle(message, "blocking"));
};
