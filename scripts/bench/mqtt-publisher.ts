/**
 * The bare publisher of `npm run bench -- offload`: COUNT messages of SIZE bytes, QoS 1, to one
 * topic, at most WINDOW awaiting their PUBACK (the dock's `sync.chunkWindow`), with plain mqtt.js
 * and nothing else. Prints one JSON line `{ firstPublishAtMs, lastPubackAtMs, count, bytes, cpuS }`
 * (cpuS: this process's CPU seconds from the first publish to the last PUBACK).
 *
 * usage: node mqtt-publisher.js URL TOPIC COUNT SIZE WINDOW
 */
import { randomFillSync } from 'node:crypto';
import mqtt from 'mqtt';

async function main(): Promise<void> {
  const [url, topic, countArg, sizeArg, windowArg] = process.argv.slice(2);
  const count = Number(countArg);
  const size = Number(sizeArg);
  const window = Number(windowArg);
  if (!url || !topic || !(count > 0) || !(size > 0) || !(window > 0)) {
    process.stderr.write('usage: mqtt-publisher URL TOPIC COUNT SIZE WINDOW\n');
    process.exit(2);
  }
  // A few distinct payloads, as the dock's chunks are distinct; generating 1 GiB would measure the generator.
  const payloads = Array.from({ length: 4 }, () => randomFillSync(Buffer.allocUnsafe(size)));
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, clean: true });
  let next = 0;
  let done = 0;
  const firstPublishAtMs = Date.now();
  const cpu0 = process.cpuUsage();
  await new Promise<void>((resolve, reject) => {
    const pump = () => {
      while (next < count && next - done < window) {
        const i = next++;
        client.publish(topic, payloads[i % payloads.length]!, { qos: 1 }, (err) => {
          if (err) return reject(err);
          done++;
          if (done === count) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  const lastPubackAtMs = Date.now();
  const cpu = process.cpuUsage(cpu0);
  await client.endAsync();
  process.stdout.write(`${JSON.stringify({ firstPublishAtMs, lastPubackAtMs, count, bytes: count * size, cpuS: (cpu.user + cpu.system) / 1e6 })}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`mqtt-publisher: ${e.message}\n`);
  process.exit(1);
});
