import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** A file served as it is, with its content type and an ETag from its content. */
export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

export function asset(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 16)}"` };
}

/** Sends the asset, or 304 when the client holds this version. */
export function sendAsset(req: FastifyRequest, reply: FastifyReply, a: Asset, cacheControl: string) {
  reply.header('etag', a.etag).header('cache-control', cacheControl).header('x-content-type-options', 'nosniff');
  if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
  return reply.type(a.type).send(a.body);
}
