/**
 * Test helper: a loopback TCP proxy in front of a service, failing chosen connections the way networks and
 * overloaded servers do before the service itself is reached (the emulator's own fault knobs act later, per
 * request or at AUTH). Connection n (1-based) follows plan[n-1]; connections past the plan pass through.
 */
import net from 'node:net';

export type ConnectionFault =
  /** Forwarded to the service. */
  | 'pass'
  /** Accepted, then reset (TCP RST) before a byte is answered. */
  | 'reset'
  /** Accepted, then never answered. */
  | 'hang'
  /** This line is answered (e.g. an SMTP greeting "421 4.3.2 Service not available"), then the connection closed. */
  | { reply: string };

export interface FaultProxy {
  host: string;
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startFaultProxy(
  target: { host: string; port: number },
  plan: ConnectionFault[],
): Promise<FaultProxy> {
  let connections = 0;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => undefined);
    const fault = plan[connections++] ?? 'pass';
    if (fault === 'reset') return void client.resetAndDestroy();
    if (fault === 'hang') return;
    if (typeof fault === 'object') return void client.end(`${fault.reply}\r\n`);
    const upstream = net.connect(target.port, target.host);
    open.add(upstream);
    upstream.on('close', () => {
      open.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    host: '127.0.0.1',
    port,
    get connections() {
      return connections;
    },
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
