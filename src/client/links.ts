// The client's sockets: one connected UDP socket per replica it talks to. A connected socket hears
// the ICMP "port unreachable" a host answers for a port nobody listens on (ECONNREFUSED, within a
// millisecond on this host), so a stopped replica is known at once instead of after the deadline;
// it also accepts datagrams from that replica's address only. node:dgram directly, since
// dgram-as-promised has no connect(); datagrams are taken from 'message' events, never recv().
import { createSocket, type Socket } from 'node:dgram';
import type { NodeSpec } from '../core/types.js';

export interface LinkEvents {
  datagram(bytes: Buffer, from: NodeSpec): void;
  /** The replica's host said nothing listens on its port. */
  refused(to: NodeSpec): void;
  /** Any other socket error (no route, buffer full, …): counted; retransmission covers it. */
  sendError(to: NodeSpec, error: Error): void;
}

class Link {
  private readonly socket: Socket = createSocket('udp4');
  private readonly connected: Promise<void>;
  private isConnected = false;
  private closed = false;

  constructor(readonly to: NodeSpec, events: LinkEvents) {
    this.socket.on('message', (bytes) => events.datagram(bytes, to));
    this.socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED') events.refused(to);
      else events.sendError(to, e);
    });
    this.connected = new Promise<void>((resolve) => this.socket.connect(to.port, to.host, () => { this.isConnected = true; resolve(); }));
    this.connected.catch(() => {});
  }

  send(datagram: Uint8Array, onError: (e: Error) => void): void {
    const now = () => {
      if (!this.closed) this.socket.send(datagram, (e) => { if (e) onError(e); });
    };
    // Sends made before connect() completes wait for it (an unconnected socket refuses them).
    if (this.isConnected) now();
    else this.connected.then(now, onError);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve(); // never bound: nothing to close
      }
    });
  }
}

/** Links made on first use, kept until close. */
export class Links {
  private readonly links = new Map<string, Link>();
  private closed = false;

  constructor(private readonly events: LinkEvents) {}

  send(to: NodeSpec, datagram: Uint8Array): void {
    if (this.closed) return;
    let link = this.links.get(to.name);
    if (link === undefined) {
      link = new Link(to, this.events);
      this.links.set(to.name, link);
    }
    link.send(datagram, (e) => this.events.sendError(to, e));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.links.values()].map((l) => l.close()));
    this.links.clear();
  }
}
