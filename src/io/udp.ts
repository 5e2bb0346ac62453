// One UDP socket per replica (dgram-as-promised). Datagrams are taken from the socket's 'message'
// event, never recv()/async iteration: those listen only while awaited and silently lose every
// datagram that arrives in between (see ARCHITECTURE.md). Sends are fire and forget: UDP may lose them
// anyway and the core retransmits, so a failed send is counted, never thrown.
import { DgramAsPromised, type SocketAsPromised } from 'dgram-as-promised';
import type { Address } from '../core/types.js';

/** Kernel socket buffers, so a burst (a fan-out, a hint delivery) is not dropped by the kernel. Linux caps them at net.core.[rw]mem_max. */
export const socketBufferBytes = 4 * 1024 * 1024;

export type DatagramHandler = (bytes: Buffer, from: Address) => void;
export type SendErrorHandler = (error: Error, to: Address) => void;

export class UdpEndpoint {
  private receiving = true;
  private closed = false;

  private constructor(private readonly socket: SocketAsPromised, readonly address: Address, private readonly onSendError: SendErrorHandler) {}

  /** Binds host:port (port 0: any free port) and hands every datagram to onDatagram until close. */
  static async bind(host: string, port: number, onDatagram: DatagramHandler, onSendError: SendErrorHandler = () => {}): Promise<UdpEndpoint> {
    const socket = DgramAsPromised.createSocket({ type: 'udp4', recvBufferSize: socketBufferBytes, sendBufferSize: socketBufferBytes });
    let endpoint: UdpEndpoint | null = null;
    socket.socket.on('message', (msg, rinfo) => {
      if (endpoint?.receiving === true) onDatagram(msg, `${rinfo.address}:${rinfo.port}`);
    });
    try {
      const bound = await socket.bind(port, host);
      endpoint = new UdpEndpoint(socket, `${bound.address}:${bound.port}`, onSendError);
      return endpoint;
    } catch (e) {
      socket.socket.close();
      throw e;
    }
  }

  /** Sends one datagram; never throws. */
  send(to: Address, bytes: Uint8Array): void {
    if (this.closed) return;
    const sep = to.lastIndexOf(':');
    const port = Number(to.slice(sep + 1));
    if (sep <= 0 || !Number.isInteger(port) || port < 1 || port > 65_535) {
      this.failed(new Error(`bad address ${JSON.stringify(to)}`), to);
      return;
    }
    this.socket.send(bytes, port, to.slice(0, sep)).catch((e: unknown) => this.failed(e instanceof Error ? e : new Error(String(e)), to));
  }

  /** Kernel buffer sizes actually granted (for the start line). */
  get bufferBytes(): { recv: number; send: number } {
    return { recv: this.socket.socket.getRecvBufferSize(), send: this.socket.socket.getSendBufferSize() };
  }

  /** Stops handing datagrams over; the socket stays open for sends until close. */
  stopReceiving(): void {
    this.receiving = false;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.receiving = false;
    await this.socket.close();
  }

  private failed(error: Error, to: Address): void {
    this.onSendError(error, to);
  }
}
