// `monami image`: fleet keys, signed image builds and inspection (implemented in ota/cli/).

export { run } from "../../ota/cli/image-command.ts";
