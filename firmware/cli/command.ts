// The shape of a `monami` subcommand: a name, a one-line summary, and a lazily loaded runner.

export interface CommandModule {
  /** Runs the subcommand with the arguments after its name; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  load(): Promise<CommandModule>;
}

/** Exit codes shared by every subcommand. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
} as const;
