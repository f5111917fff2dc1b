// Child process for the power-loss trials: installs an image on a simulated board root, optionally SIGKILLing itself at the k-th state change.

import { simulatedBoard } from "../../board/boards/simulated.ts";
import { installImage } from "../../ota/install/installer.ts";
import { fileChunks } from "../../ota/io/file-chunks.ts";
import { SimSlots } from "../../ota/slots/sim-slots.ts";
import { formatRefusal } from "../../ota/verify/refusal.ts";
import { fleetPublic } from "../unit/ota/fixtures.ts";

const [root, imagePath, killAtText] = process.argv.slice(2);
if (!root || !imagePath) {
  console.error("usage: ota-install-child.ts ROOT IMAGE [KILL_AT_EVENT]");
  process.exit(2);
}
const killAt = killAtText ? Number(killAtText) : Number.POSITIVE_INFINITY;
const sim = new SimSlots(simulatedBoard(root), [fleetPublic]);
let events = 0;
const result = await installImage(fileChunks(imagePath, 0, undefined, 16 * 1024), {
  board: sim.board,
  store: sim.store,
  trusted: [fleetPublic],
  onState: (state) => {
    events++;
    console.log(`event ${events} ${state.phase}`);
    if (events === killAt) process.kill(process.pid, "SIGKILL");
  },
});
console.log(result.ok ? "installed" : `refused: ${formatRefusal(result.error)}`);
process.exit(result.ok ? 0 : 1);
