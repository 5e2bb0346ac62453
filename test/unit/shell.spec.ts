// The shell's keys through readline's own input stream, as a terminal sends them: Ctrl-C is \x03,
// Ctrl-D \x04, Enter \r, the up arrow ESC [ A.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { runShell } from '../../src/cli/shell.js';

const ctrlC = '\x03';
const ctrlD = '\x04';
const up = '\x1b[A';

/** A shell on fake terminal streams; `run` records each line, and a line 'wait' blocks until cancelled. */
function terminal(historyFile: string | null = null) {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = '';
  output.on('data', (d: Buffer) => { shown += d.toString(); });
  const ran: string[] = [];
  let cancels = 0;
  let release: (() => void) | null = null;
  let waitingStarted: (() => void) | null = null;
  const done = runShell({
    input, output, terminal: true, prompt: 'kvc> ', historyFile,
    run: async (line) => {
      ran.push(line);
      if (line === 'quit') return 'quit';
      if (line === 'wait') {
        await new Promise<void>((resolve) => { release = resolve; waitingStarted?.(); });
        ran.push('(wait ended)');
      }
      return undefined;
    },
    cancel: () => { cancels++; release?.(); release = null; },
  });
  let finished = false;
  void done.then(() => { finished = true; });
  return {
    type: (keys: string) => input.write(keys),
    ran, get cancels() { return cancels; }, get shown() { return shown; }, get finished() { return finished; }, done,
    /** Resolves once a 'wait' line is in flight. */
    waiting: () => new Promise<void>((resolve) => { if (release !== null) resolve(); else waitingStarted = resolve; }),
  };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('cli/shell: keys at the terminal', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'ringkv-shell-')); });
  afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

  it('Ctrl-C with a request in flight cancels it, and the next command runs', async () => {
    const t = terminal();
    t.type('wait\r');
    await t.waiting();
    t.type(ctrlC);
    await turn();
    expect(t.cancels).to.equal(1);
    t.type('get 2\r');
    t.type('quit\r');
    await t.done;
    expect(t.ran).to.deep.equal(['wait', '(wait ended)', 'get 2', 'quit']);
  });

  it('Ctrl-C at the prompt drops the line typed so far and keeps the shell open', async () => {
    const t = terminal();
    t.type('put 1 abc');
    await turn();
    t.type(ctrlC);
    await turn();
    expect(t.finished).to.equal(false);
    expect(t.cancels).to.equal(0);
    t.type('get 5\r');
    t.type('quit\r');
    await t.done;
    expect(t.ran).to.deep.equal(['get 5', 'quit']);
    expect(t.shown).to.include('^C\n');
  });

  it('Ctrl-D on an empty line leaves, ending the line', async () => {
    const t = terminal();
    t.type('get 1\r');
    await turn();
    t.type(ctrlD);
    await t.done;
    expect(t.ran).to.deep.equal(['get 1']);
    expect(t.shown.endsWith('\n')).to.equal(true);
  });

  it('keeps the history in a private file, oldest first, and offers it in the next session', async () => {
    const file = join(dir, 'history');
    const first = terminal(file);
    first.type('put 2 "x y"\r');
    first.type('get 2\r');
    first.type('quit\r');
    await first.done;
    expect(readFileSync(file, 'utf8')).to.equal('put 2 "x y"\nget 2\nquit\n');
    expect(statSync(file).mode & 0o777).to.equal(0o600);

    const second = terminal(file);
    second.type(`${up}${up}\r`); // two entries back: get 2
    second.type('quit\r');
    await second.done;
    expect(second.ran).to.deep.equal(['get 2', 'quit']);
  });
});
