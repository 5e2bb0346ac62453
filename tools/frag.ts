// What IP fragmentation does to UDP datagrams on a lossy link: two network namespaces joined by a
// veth (MTU 1500), an nft rule on the receiver's ingress dropping a random share of packets (each
// IP fragment is a packet), and a sender sending datagrams of each size across, back to back. Prints
// the share of datagrams delivered per size and loss rate, against what independent fragment loss
// predicts. Every cell gets fresh namespaces: a fragment lost pins the others of its datagram in
// the receiver's reassembly memory (net.ipv4.ipfrag_high_thresh, 4 MB) for ipfrag_time (30 s), and
// once that is full every fragment is dropped, so one cell's loss would starve the next cell.
// Needs root; removes its namespaces at the end.
//   npm run frag -- [--count 2000] [--loss 0,1,5]
import { spawn, spawnSync } from 'node:child_process';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';

const argv = await yargs(hideBin(process.argv))
  .scriptName('npm run frag --')
  .option('count', { type: 'number', default: 2000, describe: 'datagrams sent per size and loss rate' })
  .option('loss', { type: 'string', default: '0,1,5', describe: 'packet loss rates to try, in percent' })
  .option('sizes', { type: 'string', default: '1200,1472,1473,4000,16000,60000', describe: 'UDP payload sizes in bytes' })
  .strict()
  .parse();

const prefix = `rkfrag${process.pid}`;
const sender = `${prefix}-tx`;
const receiver = `${prefix}-rx`;
const port = 9999;

function sh(...args: string[]): void {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr.trim()}`);
}

function build(): void {
  sh('ip', 'netns', 'add', sender);
  sh('ip', 'netns', 'add', receiver);
  sh('ip', '-n', sender, 'link', 'add', 'name', 'vtx', 'type', 'veth', 'peer', 'name', 'vrx', 'netns', receiver);
  sh('ip', '-n', sender, 'addr', 'add', '10.214.0.1/24', 'dev', 'vtx');
  sh('ip', '-n', receiver, 'addr', 'add', '10.214.0.2/24', 'dev', 'vrx');
  for (const [ns, dev] of [[sender, 'vtx'], [receiver, 'vrx']] as const) {
    sh('ip', '-n', ns, 'link', 'set', 'dev', dev, 'mtu', '1500');
    sh('ip', '-n', ns, 'link', 'set', 'dev', dev, 'up');
  }
}

function setLoss(percent: number): void {
  spawnSync('ip', ['netns', 'exec', receiver, 'nft', 'delete table netdev ringkv_frag']);
  if (percent === 0) return;
  sh('ip', 'netns', 'exec', receiver, 'nft', 'add table netdev ringkv_frag');
  sh('ip', 'netns', 'exec', receiver, 'nft',
    `add chain netdev ringkv_frag in { type filter hook ingress device vrx priority 0 ; numgen random mod 1000 < ${Math.round(percent * 10)} drop ; }`);
}

const receiverScript = `
const s = require('node:dgram').createSocket({ type: 'udp4', recvBufferSize: 64 << 20 });
let n = 0;
s.on('message', () => { n++; });
s.bind(${port}, '10.214.0.2', () => process.stdout.write('ready\\n'));
process.stdin.on('data', () => { process.stdout.write(String(n) + '\\n'); process.exit(0); });
`;
const senderScript = `
const [size, count] = process.argv.slice(1).map(Number);
const s = require('node:dgram').createSocket('udp4');
const buf = Buffer.alloc(size, 7);
let sent = 0;
const next = () => {
  if (sent === count) return setTimeout(() => s.close(), 200);
  s.send(buf, ${port}, '10.214.0.2', () => { sent++; setImmediate(next); });
};
next();
`;

async function deliveredShare(size: number, count: number): Promise<number> {
  const rx = spawn('ip', ['netns', 'exec', receiver, process.execPath, '-e', receiverScript], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  rx.stdout.on('data', (b: Buffer) => {
    for (const l of b.toString().split('\n').filter((x) => x !== '')) { const w = waiters.shift(); if (w) w(l); else lines.push(l); }
  });
  const line = () => new Promise<string>((resolve) => { const l = lines.shift(); if (l !== undefined) resolve(l); else waiters.push(resolve); });
  await line(); // ready
  const tx = spawnSync('ip', ['netns', 'exec', sender, process.execPath, '-e', senderScript, String(size), String(count)], { encoding: 'utf8' });
  if (tx.status !== 0) throw new Error(`sender: ${tx.stderr}`);
  await new Promise((r) => setTimeout(r, 300));
  rx.stdin.write('count\n');
  return Number(await line()) / count;
}

const losses = argv.loss.split(',').map(Number);
const sizes = argv.sizes.split(',').map(Number);
function destroy(): void {
  spawnSync('ip', ['netns', 'del', sender]);
  spawnSync('ip', ['netns', 'del', receiver]);
}

try {
  console.log(`| UDP payload | IP packets | ${losses.map((l) => `delivered at ${l}% packet loss`).join(' | ')} |`);
  console.log(`| --- | --- | ${losses.map(() => '---').join(' | ')} |`);
  for (const size of sizes) {
    const packets = Math.ceil((size + 8) / 1480);
    const cells: string[] = [];
    for (const loss of losses) {
      build();
      setLoss(loss);
      const share = await deliveredShare(size, argv.count);
      destroy();
      cells.push(`${(share * 100).toFixed(1)}% (expected ${(Math.pow(1 - loss / 100, packets) * 100).toFixed(1)}%)`);
    }
    console.log(`| ${size} B | ${packets} | ${cells.join(' | ')} |`);
  }
} finally {
  destroy();
}
