// `monami flash`: the technician's flashing tool (implemented in ota/cli/).

export { run } from "../../ota/cli/flash-command.ts";
