// kvc top's loop around renderTop: the alternate screen, a fresh view per redraw, q quits and
// gives the terminal back. (The drawing itself is tested as text in test/sim/state.spec.ts.)
import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { mergeStates } from '../../src/cli/cluster-state.js';
import { renderTop, runTop } from '../../src/cli/top.js';

describe('cli/top: the kvc top loop', () => {
  it('draws each fetched view on the alternate screen until q, then restores the screen', async () => {
    const input = new PassThrough() as unknown as NodeJS.ReadStream;
    const output = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
    let written = '';
    (output as unknown as PassThrough).on('data', (d: Buffer) => { written += d.toString(); });
    const view = mergeStates([{ name: 'replica-1', state: null, error: 'no reply' }], 3, Date.UTC(2026, 11, 4, 12, 0, 0));
    let fetches = 0;
    const done = runTop({
      input, output,
      fetch: async () => {
        fetches++;
        if (fetches === 2) (input as unknown as PassThrough).write('q');
        return view;
      },
    });
    await done;
    expect(fetches).to.equal(2);
    expect(written.startsWith('\x1b[?1049h')).to.equal(true);
    expect(written.endsWith('\x1b[?25h\x1b[?1049l')).to.equal(true);
    expect(written.split(renderTop(view, 100)).length - 1, 'drawn once before q, not after').to.equal(1);
    expect(written).to.contain('ringkv 12:00:00  1 replica, 0 answered; no answer from replica-1');
  });
});
