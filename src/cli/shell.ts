// The line editor around kvc's commands: a prompt, Ctrl-C and Ctrl-D as in a Unix shell, and a
// history file kept between sessions (like cqlsh's ~/.cassandra/cqlsh_history). What a line does
// is the caller's `run`; this file only decides when lines run and what the keys mean:
//   Ctrl-C with a request in flight   cancel it (cancel()), back to a working prompt
//   Ctrl-C at the prompt              drop the line typed so far, fresh prompt (never exits)
//   Ctrl-D on an empty line, `quit`   leave, the terminal left on a new line
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';

/** History entries kept, in memory and in the file. */
export const historyLinesMax = 1_000;
/** Longer lines (a big value pasted in) run, but are not kept in the history file. */
export const historyLineCharsMax = 4_096;

/** $KV_HISTORY, else ~/.kvc_history; KV_HISTORY= (empty) keeps no file. */
export function defaultHistoryFile(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.KV_HISTORY !== undefined) return env.KV_HISTORY === '' ? null : env.KV_HISTORY;
  return join(homedir(), '.kvc_history');
}

export interface ShellOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** A person at a terminal: prompt, line editing, keys, history. Otherwise lines are read as they come. */
  terminal: boolean;
  prompt: string;
  /** Only used with terminal; null: none. */
  historyFile: string | null;
  /** Runs one line and prints its result; 'quit' leaves. It must not throw. */
  run(line: string): Promise<'quit' | undefined>;
  /** Ctrl-C while run() is in flight: make it return soon. */
  cancel(): void;
}

/** Resolves when the input ends (Ctrl-D, end of a pipe) or a line quits. */
export async function runShell(o: ShellOptions): Promise<void> {
  const history = o.terminal && o.historyFile !== null ? readHistory(o.historyFile) : [];
  const rl = createInterface({
    input: o.input, output: o.output, terminal: o.terminal, prompt: o.prompt,
    history, historySize: historyLinesMax, removeHistoryDuplicates: true,
  });
  let busy = false;
  let quit = false;
  rl.on('SIGINT', () => {
    if (busy) {
      o.cancel();
      return;
    }
    // Drop what was typed, as bash does: ^C, a new line, a fresh prompt.
    clearLine(rl);
    o.output.write('^C\n');
    rl.prompt();
  });
  if (o.terminal && o.historyFile !== null) {
    const file = o.historyFile;
    rl.on('history', (lines: string[]) => writeHistory(file, lines));
  }
  if (o.terminal) rl.prompt();
  try {
    for await (const line of rl) {
      busy = true;
      const r = await o.run(line);
      busy = false;
      if (r === 'quit') {
        quit = true;
        break;
      }
      if (o.terminal) rl.prompt();
    }
  } finally {
    rl.close();
  }
  // Ctrl-D leaves the cursor after the prompt: end that line so the user's shell prompt starts clean.
  if (o.terminal && !quit) o.output.write('\n');
}

function clearLine(rl: Interface): void {
  rl.write(null, { ctrl: true, name: 'e' }); // to the end of the line,
  rl.write(null, { ctrl: true, name: 'u' }); // then delete everything before the cursor
}

/** Newest first, as readline keeps it; the file is oldest first, one line each. */
function readHistory(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0).slice(-historyLinesMax).reverse();
  } catch {
    return []; // none yet (or unreadable): start empty rather than refuse to open the shell
  }
}

function writeHistory(file: string, newestFirst: string[]): void {
  const kept = newestFirst.filter((l) => l.length <= historyLineCharsMax && !l.includes('\n')).slice(0, historyLinesMax).reverse();
  try {
    writeFileSync(file, kept.length === 0 ? '' : `${kept.join('\n')}\n`, { mode: 0o600 });
    chmodSync(file, 0o600); // values typed may be secrets: keep the file private even if it existed
  } catch {
    // A history that cannot be saved must not break the shell.
  }
}
