/**
 * `bwc link monitor`: the dock end of a camera link, for field diagnosis. Acks every frame, prints
 * every decoded event, and the link counters on exit.
 */
import type { Command } from 'commander';
import { pb } from '../../proto/wire.js';
import { toHex } from '../../proto/bytes.js';
import { LinkPortRunner } from '../../device/link/port-runner.js';
import { textLogger } from '../../device/log.js';
import { serialLinkPort, DEFAULT_BAUD } from '../../device/link/transport.js';
import type { CameraEvent, CameraLink, LinkCounters } from '../../device/link/camera-link.js';
import { CliError } from './common.js';
import { parseUsbMatch, PortSupervisor, UsbCameraWatcher, type CameraPort, type UsbMatch } from '../../device/io/usb.js';

/** A camera event as one flat JSON object: enums by name, bytes in hex, times ISO. */
export function eventToJson(e: CameraEvent): Record<string, unknown> {
  const body = (e.frame as unknown as Record<string, unknown>)[e.kind] as Record<string, unknown>;
  const plain: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body ?? {})) {
    if (v instanceof Uint8Array) plain[k] = toHex(v);
    else if (v !== null && typeof v === 'object' && !Array.isArray(v)) plain[k] = JSON.parse(JSON.stringify(v));
    else plain[k] = v;
  }
  const enumNames: Record<string, Record<number, string>> = {
    trigger: pb.TriggerSource,
    method: pb.RecordingMethod,
    reason: pb.StopReason,
    kind: pb.TamperKind,
  };
  for (const [k, names] of Object.entries(enumNames)) if (typeof plain[k] === 'number') plain[k] = names[plain[k] as number] ?? plain[k];
  return {
    kind: e.kind,
    camera: e.camera.cameraSerial,
    eventNo: e.eventNo,
    at: new Date(e.atMs).toISOString(),
    cameraTime: e.cameraTimeMs ? new Date(e.cameraTimeMs).toISOString() : null,
    replayed: e.replayed,
    data: plain,
  };
}

export function countersLine(c: LinkCounters): string {
  const d = c.decoder;
  const p = c.endpoint;
  return (
    `frames ok ${d.framesOk}, bad CRC ${d.badCrc}, bad COBS ${d.badCobs}, oversize ${d.oversize}, undecodable ${d.undecodable}, ` +
    `resyncs ${d.resyncs}, duplicates ${p.duplicates + c.eventDuplicates}, retransmits ${p.retransmits}, events ${c.eventsDelivered}, sessions ${c.sessions}`
  );
}

function addCounters(total: LinkCounters | null, c: LinkCounters): LinkCounters {
  if (!total) return JSON.parse(JSON.stringify(c)) as LinkCounters;
  for (const k of Object.keys(c.decoder) as (keyof LinkCounters['decoder'])[]) total.decoder[k] += c.decoder[k];
  for (const k of Object.keys(c.endpoint) as (keyof LinkCounters['endpoint'])[]) total.endpoint[k] += c.endpoint[k];
  total.eventsDelivered += c.eventsDelivered;
  total.eventDuplicates += c.eventDuplicates;
  total.framesBeforeHello += c.framesBeforeHello;
  total.sessions += c.sessions;
  return total;
}

const collect = (v: string, prev: string[]) => [...prev, v];

async function monitor(opts: { port: string[]; usb: string[]; baud: string; json?: boolean; exitAfter?: string }): Promise<void> {
  const baud = Number(opts.baud);
  if (!Number.isInteger(baud) || baud <= 0) throw new CliError(`--baud must be a positive whole number, got "${opts.baud}"`);
  if (opts.port.length === 0 && opts.usb.length === 0) throw new CliError('give at least one --port PATH or --usb VID:PID');
  let match: UsbMatch[];
  try {
    match = opts.usb.map(parseUsbMatch);
  } catch (e) {
    throw new CliError(`--usb: ${(e as Error).message}`);
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const log = textLogger((level, message) => process.stderr.write(`${level}: ${message}\n`));
  const links: CameraLink[] = [];
  const startRunner = (port: CameraPort) =>
    new LinkPortRunner({
      port: serialLinkPort(port.path, baud),
      retryMs: 500,
      log,
      link: {
        onEvent: (e) => {
          if (opts.json) out(JSON.stringify(eventToJson(e)));
          else {
            const j = eventToJson(e);
            out(`${String(j.at)} ${String(j.camera)} #${String(j.eventNo)} ${String(j.kind)}${j.replayed ? ' (replayed)' : ''} ${JSON.stringify(j.data)}`);
          }
        },
      },
      onLink: (link) => {
        links.push(link);
        link.on('connected', (c) => {
          const msg = {
            kind: 'hello',
            port: port.path,
            camera: c.cameraSerial,
            model: c.model,
            firmware: c.firmware,
            sessionId: c.sessionId,
            offsetMs: c.offsetMs,
          };
          out(
            opts.json
              ? JSON.stringify(msg)
              : `hello ${c.cameraSerial} ${c.model} ${c.firmware} on ${port.path}, session ${c.sessionId}, clock offset ${c.offsetMs} ms`,
          );
        });
        link.on('fault', (f) => {
          if (!opts.json) process.stderr.write(`link fault: ${f.fault} (${f.detail}), ${f.bytes} bytes skipped\n`);
        });
      },
    }).start();
  const supervisor = new PortSupervisor({
    staticPorts: opts.port,
    watcher: match.length > 0 ? new UsbCameraWatcher({ match, log }) : undefined,
    start: startRunner,
    log,
  });
  await supervisor.start();
  await new Promise<void>((resolve) => {
    const done = () => resolve();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    if (opts.exitAfter) setTimeout(done, Number(opts.exitAfter) * 1000);
  });
  supervisor.stop();
  let total: LinkCounters | null = null;
  for (const l of links) total = addCounters(total, l.counters);
  if (opts.json) out(JSON.stringify({ kind: 'counters', ...(total ?? {}) }));
  else process.stderr.write(`counters: ${total ? countersLine(total) : 'no link was opened'}\n`);
}

export function registerLink(program: Command): void {
  const link = program.command('link').description('Camera link (BWC-Link v1) tools for field IT.');
  link
    .command('monitor')
    .description('Act as the dock end of a camera link: ack frames, print every event, and the link counters on exit.')
    .option('--port <path>', 'serial device, e.g. /dev/ttyACM0 or one end of a pty pair (repeatable)', collect, [])
    .option('--usb <vid:pid>', 'also link every camera with this USB id as it is plugged in (repeatable)', collect, [])
    .option('--baud <n>', 'baud rate', String(DEFAULT_BAUD))
    .option('--json', 'one JSON object per line; the counters as the last line')
    .option('--exit-after <seconds>', 'stop after this many seconds (default: run until Ctrl-C)')
    .addHelpText(
      'after',
      '\nExample:\n  $ bwc link monitor --port /dev/ttyACM0\n  $ bwc link monitor --port /tmp/ptyB --json --exit-after 30 | jq .kind\n  $ bwc link monitor --usb 1209:b0c0\n',
    )
    .action(monitor);
}
