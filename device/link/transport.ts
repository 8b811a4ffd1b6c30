/**
 * Transports under a camera link: one interface, a real serial implementation and an in-memory
 * one for tests (STYLE.md §2). A transport opens to a Duplex of raw bytes; the link does the rest.
 */
import { Duplex } from 'node:stream';
import { SerialPort } from 'serialport';

export interface LinkPort {
  /** For logs: the device path or a test name. */
  readonly path: string;
  /** Opens the port; rejects with a one-line reason (missing device, permission…). */
  open(): Promise<Duplex>;
}

export const DEFAULT_BAUD = 115_200;

/** A serial device (USB CDC-ACM tty, UART, or one end of a pty pair). */
export function serialLinkPort(path: string, baudRate = DEFAULT_BAUD): LinkPort {
  return {
    path,
    open: () =>
      new Promise<Duplex>((resolve, reject) => {
        const port = new SerialPort({ path, baudRate, autoOpen: false, hupcl: false });
        port.open((err) => {
          if (err) reject(new Error(`cannot open ${path}: ${err.message}`));
          else resolve(port);
        });
      }),
  };
}

/**
 * Closes a transport and resolves once it is closed. A serial port is closed through its binding
 * (destroy() alone leaves the tty locked, and the next open fails with "Cannot lock port").
 */
export function closeTransport(t: Duplex): Promise<void> {
  return new Promise((resolve) => {
    if (t.closed || t.destroyed) {
      resolve();
      return;
    }
    const done = () => resolve();
    t.once('close', done);
    if (t instanceof SerialPort && t.isOpen) {
      t.close((err) => {
        if (err) t.destroy();
        resolve();
      });
    } else {
      t.destroy();
    }
    setTimeout(done, 1000).unref();
  });
}

/** One end of an in-memory byte pipe; what it writes arrives at its peer on the next tick. */
class MemoryEnd extends Duplex {
  peer: MemoryEnd | null = null;

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    const peer = this.peer;
    process.nextTick(() => peer?.push(chunk));
    done();
  }

  override _final(done: (e?: Error | null) => void): void {
    const peer = this.peer;
    process.nextTick(() => peer?.push(null));
    done();
  }

  override _destroy(err: Error | null, done: (e?: Error | null) => void): void {
    const peer = this.peer;
    process.nextTick(() => {
      if (peer && !peer.destroyed) peer.destroy();
    });
    done(err);
  }
}

/** Two connected in-memory byte streams: what one writes, the other reads (a cable for tests). */
export function memoryDuplexPair(): [Duplex, Duplex] {
  const a = new MemoryEnd();
  const b = new MemoryEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** An in-memory LinkPort whose far end the test holds; `open` can be made to fail. */
export function memoryLinkPort(path = 'memory'): { port: LinkPort; far: () => Duplex | null } {
  let far: Duplex | null = null;
  return {
    port: {
      path,
      open: async () => {
        const [near, other] = memoryDuplexPair();
        far = other;
        return near;
      },
    },
    far: () => far,
  };
}
