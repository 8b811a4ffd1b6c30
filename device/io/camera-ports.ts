/**
 * The ports the dock links cameras on: the ports it is given (tests, the demo's in-process
 * cameras), or else the configured serial ports and the USB cameras found as they are plugged in
 * (usb.ts). Each port keeps one camera link running (device/link/port-runner.ts), reopened
 * whenever it goes away, until `stop()`.
 */
import type { Logger } from 'pino';
import { LinkPortRunner } from '../link/port-runner.js';
import { serialLinkPort, type LinkPort } from '../link/transport.js';
import type { CameraLink, CameraLinkOptions } from '../link/camera-link.js';
import { UsbCameraWatcher, PortSupervisor, parseUsbMatch } from './usb.js';

export interface CameraPortsOptions {
  /** Ports to link instead of the configured ones. */
  ports?: LinkPort[];
  /** The configured ports (config `link`). */
  config: { ports: string[]; usb: string[]; baudRate: number };
  link: Omit<CameraLinkOptions, 'transport'>;
  /** A link opened on a port (each reopening gives a new one). */
  onLink(link: CameraLink): void;
  /** The dock's logger (device/log.ts): USB messages go to its `usb` child, link messages to its `link` child. */
  log: Logger;
}

export class CameraPorts {
  readonly #o: CameraPortsOptions;
  readonly #runners: LinkPortRunner[] = [];
  #supervisor: PortSupervisor | null = null;

  constructor(options: CameraPortsOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    const { config: c, log } = this.#o;
    if (this.#o.ports) {
      for (const p of this.#o.ports) this.#run(p);
      return;
    }
    const usbLog = log.child({ part: 'usb' });
    const watcher = c.usb.length > 0 ? new UsbCameraWatcher({ match: c.usb.map(parseUsbMatch), log: usbLog }) : undefined;
    this.#supervisor = new PortSupervisor({
      staticPorts: c.ports,
      ...(watcher ? { watcher } : {}),
      start: (port) => {
        const r = this.#run(serialLinkPort(port.path, c.baudRate));
        return { stop: () => r.stop() };
      },
      log: usbLog,
    });
    await this.#supervisor.start();
  }

  stop(): void {
    this.#supervisor?.stop();
    for (const r of this.#runners) r.stop();
  }

  #run(port: LinkPort): LinkPortRunner {
    const r = new LinkPortRunner({
      port,
      link: this.#o.link,
      log: this.#o.log.child({ part: 'link' }, { msgPrefix: 'link ' }),
      onLink: (l) => this.#o.onLink(l),
    }).start();
    this.#runners.push(r);
    return r;
  }
}
