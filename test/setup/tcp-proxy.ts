import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of the test Postgres, to make the database unreachable on cue:
 * `cut()` drops every connection through it and refuses new ones until `restore()`. A
 * store given `url` sees exactly what it would see when its database goes away (a
 * dropped connection mid-query, then ECONNRESET on connect), while the test keeps its
 * own direct connection.
 */
export interface TcpProxy {
  /** The test database's URL, through the proxy. */
  readonly url: string;
  readonly isCut: boolean;
  /** Drops every open connection and refuses new ones; with `forMs`, restores after that long. */
  cut(forMs?: number): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(databaseUrl: string): Promise<TcpProxy> {
  const target = new URL(databaseUrl);
  const targetPort = Number(target.port || 5432);
  const sockets = new Set<Socket>();
  let isCut = false;
  let restoreTimer: NodeJS.Timeout | undefined;
  const server: Server = createServer((client) => {
    if (isCut) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, target.hostname);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy: no port');
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(address.port);
  const proxy: TcpProxy = {
    url: url.toString(),
    get isCut() {
      return isCut;
    },
    cut(forMs) {
      isCut = true;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      clearTimeout(restoreTimer);
      if (forMs !== undefined) restoreTimer = setTimeout(() => proxy.restore(), forMs);
    },
    restore() {
      clearTimeout(restoreTimer);
      isCut = false;
    },
    async close() {
      clearTimeout(restoreTimer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
