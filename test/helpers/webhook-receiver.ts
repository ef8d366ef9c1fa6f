/** A push webhook receiver on 127.0.0.1:0 that records every POST and answers a chosen status. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedPost {
  headers: IncomingHttpHeaders;
  raw: string;
  body: Record<string, unknown>;
}

export class WebhookReceiver {
  readonly posts: ReceivedPost[] = [];
  /** The status answered; 'hold' never answers (the POST stays in flight until stop). */
  answer: number | 'hold' = 200;
  url = '';
  private server: Server | undefined;

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    receiver.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        receiver.posts.push({ headers: request.headers, raw, body: JSON.parse(raw) as Record<string, unknown> });
        if (receiver.answer !== 'hold') response.writeHead(receiver.answer).end();
      });
    });
    await new Promise<void>((resolve) => receiver.server!.listen(0, '127.0.0.1', resolve));
    receiver.url = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}/push`;
    return receiver;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
