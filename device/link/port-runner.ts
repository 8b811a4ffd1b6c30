/**
 * Keeps one camera port linked: opens it, runs a CameraLink on it, and when the port goes away
 * (the camera is unplugged, the tty vanishes, the line dies) opens it again until it returns.
 * Failures are reported once per kind of failure, not on every retry.
 */
import { EventEmitter } from 'node:events';
import { CameraLink, type CameraLinkOptions } from './camera-link.js';
import type { Logger } from 'pino';
import type { LinkPort } from './transport.js';

export interface PortRunnerOptions {
  port: LinkPort;
  link: Omit<CameraLinkOptions, 'transport'>;
  retryMs?: number;
  onLink?(link: CameraLink): void;
  /** The `link` part of the dock's logger (device/log.ts). */
  log?: Logger;
}

export interface PortRunnerEvents {
  link: [CameraLink];
  down: [string];
}

export class LinkPortRunner extends EventEmitter<PortRunnerEvents> {
  readonly #o: PortRunnerOptions;
  #link: CameraLink | null = null;
  #stopped = true;
  #timer: NodeJS.Timeout | null = null;
  #lastError = '';
  /** Links opened so far on this port. */
  opened = 0;

  constructor(options: PortRunnerOptions) {
    super();
    this.#o = options;
  }

  get link(): CameraLink | null {
    return this.#link;
  }

  start(): this {
    this.#stopped = false;
    void this.#open();
    return this;
  }

  async #open(): Promise<void> {
    if (this.#stopped) return;
    try {
      const transport = await this.#o.port.open();
      if (this.#stopped) {
        transport.destroy();
        return;
      }
      this.#lastError = '';
      const link = new CameraLink({ ...this.#o.link, transport }).start();
      this.#link = link;
      this.opened++;
      this.#o.log?.info(`${this.#o.port.path}: link open`);
      link.once('closed', () => {
        if (this.#link === link) this.#link = null;
        if (this.#stopped) return;
        this.#o.log?.warn(`${this.#o.port.path}: link closed; reopening`);
        this.emit('down', 'closed');
        this.#retry();
      });
      this.#o.onLink?.(link);
      this.emit('link', link);
    } catch (e) {
      const message = (e as Error).message;
      if (message !== this.#lastError) this.#o.log?.warn(`${this.#o.port.path}: ${message}; retrying every ${this.#o.retryMs ?? 1000} ms`);
      this.#lastError = message;
      this.#retry();
    }
  }

  #retry(): void {
    if (this.#stopped || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#open();
    }, this.#o.retryMs ?? 1000);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#link?.close();
    this.#link = null;
  }
}
