// CPU and peak memory of processes from /proc (Linux): utime+stime from /proc/<pid>/stat for CPU %
// over a window, VmHWM from /proc/<pid>/status for the peak resident set.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface WatchedProcess { name: string; pid: number }

export interface ProcessStats {
  name: string;
  pid: number;
  /** CPU time over the window as % of one core (200% = both cores of this machine). */
  cpuPercent: number | null;
  /** The part of cpuPercent spent in the kernel (syscalls: UDP sends, writes, fdatasync). */
  sysPercent: number | null;
  /** Peak resident set since the process started (VmHWM), MB. */
  peakRssMb: number | null;
}

const clockTicksPerSec = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** utime and stime in seconds, or null if the process is gone. */
export function cpuSeconds(pid: number): { user: number; sys: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? { user: utime / clockTicksPerSec, sys: stime / clockTicksPerSec } : null;
}

/** Milliseconds since the epoch at which the process started (10 ms resolution), or null. */
export function startedAtMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    if (!Number.isFinite(startTicks) || !Number.isFinite(uptimeS)) return null;
    return Date.now() - (uptimeS - startTicks / clockTicksPerSec) * 1000;
  } catch {
    return null;
  }
}

function monoUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export function rssMb(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : null;
  } catch {
    return null;
  }
}

export function peakRssMb(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Busy and total CPU seconds of the whole machine, from the first line of /proc/stat. */
export function machineCpuSeconds(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const t = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (t.length < 8 || t.some((v) => !Number.isFinite(v))) return null;
    const idle = t[3]! + t[4]!;
    const total = t.reduce((a, b) => a + b, 0);
    return { busy: (total - idle) / clockTicksPerSec, total: total / clockTicksPerSec };
  } catch {
    return null;
  }
}

/** Machine-wide UDP datagrams sent (/proc/net/snmp OutDatagrams) and bytes through the loopback interface (/proc/net/dev). */
export function networkCounters(): { udpOut: number; loBytes: number } | null {
  try {
    const udp = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
    const names = udp[0]!.trim().split(/\s+/);
    const values = udp[1]!.trim().split(/\s+/);
    const udpOut = Number(values[names.indexOf('OutDatagrams')]);
    const lo = readFileSync('/proc/net/dev', 'utf8').split('\n').find((l) => l.trim().startsWith('lo:'));
    // lo: rx_bytes rx_packets … (8 receive fields), then tx_bytes: what loopback carried, headers included.
    const loBytes = lo === undefined ? NaN : Number(lo.trim().slice(3).trim().split(/\s+/)[8]);
    return Number.isFinite(udpOut) && Number.isFinite(loBytes) ? { udpOut, loBytes } : null;
  } catch {
    return null;
  }
}

export interface MachineStats {
  cores: number;
  /** UDP datagrams sent on the whole machine over the window (other work included). */
  udpDatagrams: number | null;
  /** Bytes through the loopback interface over the window (IP and UDP headers included; other work included). */
  loopbackBytes: number | null;
  /** All CPU use on the machine over the window, as % of one core (cores x 100 = saturated). */
  busyPercent: number | null;
  /** The part of it not used by the watched processes and this client: other work on the machine (noise). */
  otherPercent: number | null;
}

/** CPU of each process between start() and stop(); peak RSS read at stop(). */
export class ProcessWatch {
  private startCpu = new Map<number, { user: number; sys: number } | null>();
  private startMs = 0;
  private clientStart: NodeJS.CpuUsage | null = null;
  private machineStart: { busy: number; total: number } | null = null;
  /** Set by stop(). */
  machine: MachineStats = { cores: cpus().length, udpDatagrams: null, loopbackBytes: null, busyPercent: null, otherPercent: null };
  private netStart: { udpOut: number; loBytes: number } | null = null;
  /** The measured window on the monotonic clock (µs), which V8's cpu profiles also use. */
  windowMonoUs: { start: number; end: number } = { start: 0, end: 0 };
  /** Resident set of each watched process, once a second from startSampling() to stop(). */
  readonly rssMb: Record<string, (number | null)[]> = {};
  private sampler: NodeJS.Timeout | null = null;

  constructor(private readonly processes: readonly WatchedProcess[]) {}

  startSampling(): void {
    const sample = () => {
      for (const p of this.processes) (this.rssMb[p.name] ??= []).push(rssMb(p.pid));
    };
    sample();
    this.sampler = setInterval(sample, 1_000);
  }

  start(): void {
    this.windowMonoUs.start = monoUs();
    this.startMs = performance.now();
    this.clientStart = process.cpuUsage();
    this.machineStart = machineCpuSeconds();
    this.netStart = networkCounters();
    for (const p of this.processes) this.startCpu.set(p.pid, cpuSeconds(p.pid));
  }

  /** Stats of the watched processes, then of this client process (its peak RSS is its own VmHWM). */
  stop(clientName = 'bench client'): ProcessStats[] {
    this.windowMonoUs.end = monoUs();
    if (this.sampler !== null) clearInterval(this.sampler);
    const windowS = (performance.now() - this.startMs) / 1000;
    const out: ProcessStats[] = this.processes.map((p) => {
      const before = this.startCpu.get(p.pid) ?? null;
      const after = cpuSeconds(p.pid);
      const ok = before !== null && after !== null && windowS > 0;
      const cpuPercent = ok ? ((after.user + after.sys - before.user - before.sys) / windowS) * 100 : null;
      const sysPercent = ok ? ((after.sys - before.sys) / windowS) * 100 : null;
      return { name: p.name, pid: p.pid, cpuPercent, sysPercent, peakRssMb: peakRssMb(p.pid) };
    });
    const used = process.cpuUsage(this.clientStart ?? undefined);
    out.push({
      name: clientName, pid: process.pid, cpuPercent: windowS > 0 ? ((used.user + used.system) / 1e6 / windowS) * 100 : null,
      sysPercent: windowS > 0 ? (used.system / 1e6 / windowS) * 100 : null, peakRssMb: peakRssMb(process.pid),
    });
    const net = networkCounters();
    const udpDatagrams = net !== null && this.netStart !== null ? net.udpOut - this.netStart.udpOut : null;
    const loopbackBytes = net !== null && this.netStart !== null ? net.loBytes - this.netStart.loBytes : null;
    this.machine = { ...this.machine, udpDatagrams, loopbackBytes };
    const end = machineCpuSeconds();
    if (end !== null && this.machineStart !== null && windowS > 0) {
      const busyPercent = ((end.busy - this.machineStart.busy) / windowS) * 100;
      const ours = out.reduce((a, p) => a + (p.cpuPercent ?? 0), 0);
      this.machine = { cores: cpus().length, udpDatagrams, loopbackBytes, busyPercent, otherPercent: Math.max(0, busyPercent - ours) };
    }
    return out;
  }
}
