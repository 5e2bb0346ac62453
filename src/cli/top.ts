// `kvc top`: polls every replica once a second and redraws the snapshot on the terminal's alternate
// screen; q (or Ctrl-C) quits. On a stdout that is not a terminal it prints one snapshot and exits.
import type { ClientOptions } from './client.js';
import { SnapshotPoller } from './cluster-snapshot.js';
import { renderTop } from './top-view.js';

export const topIntervalMs = 1_000;

export async function runTop(opts: ClientOptions & { pollTimeoutMs?: number }): Promise<void> {
  const poller = await SnapshotPoller.open(opts);
  const out = process.stdout;
  if (!out.isTTY) {
    try {
      console.log(renderTop(await poller.poll(), { cols: out.columns ?? 120 }).join('\n'));
    } finally {
      await poller.close();
    }
    return;
  }
  let quit: () => void = () => {};
  const quitting = new Promise<void>((resolve) => { quit = resolve; });
  const onKey = (data: Buffer): void => {
    const key = data.toString('utf8');
    if (key === 'q' || key === 'Q' || key === '\u0003') quit();
  };
  const stdin = process.stdin;
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.on('data', onKey);
  stdin.resume();
  out.write('\x1b[?1049h\x1b[?25l'); // alternate screen, cursor hidden
  let stopped = false;
  void quitting.then(() => { stopped = true; });
  try {
    while (!stopped) {
      const started = Date.now();
      const snapshot = await poller.poll();
      if (stopped) break;
      const lines = renderTop(snapshot, { cols: out.columns ?? 120 }).slice(0, out.rows ?? 50);
      out.write(`\x1b[H\x1b[2J${lines.join('\n')}`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([quitting, new Promise((r) => { timer = setTimeout(r, Math.max(0, topIntervalMs - (Date.now() - started))); })]);
      clearTimeout(timer);
    }
  } finally {
    out.write('\x1b[?25h\x1b[?1049l');
    stdin.off('data', onKey);
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
    await poller.close();
  }
}
