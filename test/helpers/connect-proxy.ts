/**
 * A real HTTP proxy on 127.0.0.1 for tests: CONNECT tunnels (what clients use for https, and
 * undici for every target) and plain absolute-URI requests (http-proxy-agent for http targets).
 * Every host name resolves to 127.0.0.1 here, so a test can name a host such as `slack.test`
 * that only the proxy can reach: a call that arrives went through the proxy.
 */
import { createServer, request, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface ProxiedCall {
  kind: 'connect' | 'forward';
  /** host:port the client asked for. */
  target: string;
}

export class ConnectProxy {
  readonly calls: ProxiedCall[] = [];
  private readonly sockets = new Set<Socket>();
  private port = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<ConnectProxy> {
    const server = createServer();
    const proxy = new ConnectProxy(server);
    server.on('connection', (socket: Socket) => {
      proxy.sockets.add(socket);
      socket.on('close', () => proxy.sockets.delete(socket));
    });
    server.on('request', (req, res) => {
      let url: URL;
      try {
        url = new URL(req.url ?? '');
      } catch {
        return void res.writeHead(400).end('absolute URI expected');
      }
      proxy.calls.push({ kind: 'forward', target: `${url.hostname}:${url.port || 80}` });
      const upstream = request({ host: '127.0.0.1', port: Number(url.port || 80), method: req.method, path: `${url.pathname}${url.search}`, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    server.on('connect', (req, client: Socket, head: Buffer) => {
      const target = req.url ?? '';
      proxy.calls.push({ kind: 'connect', target });
      const port = Number(target.slice(target.lastIndexOf(':') + 1));
      const upstream = connect(port, '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      proxy.sockets.add(upstream);
      upstream.on('close', () => proxy.sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy.port = (server.address() as AddressInfo).port;
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Calls that asked for a target on this port (any host name). */
  callsTo(port: number): ProxiedCall[] {
    return this.calls.filter((c) => c.target.endsWith(`:${port}`));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
