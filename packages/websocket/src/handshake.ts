/*
 * The client handshake (Beast impl/handshake.hpp, RFC 6455 §4.1–§4.2.2):
 * send the upgrade request with a fresh random key, read the response head
 * and validate it strictly. Bytes after the response head are frames the
 * server sent right after its 101; they stay in the read buffer.
 */
import {
  type AsyncResult,
  asyncCompose,
  type CompletionToken,
  type DefaultToken,
  type ErrorCode,
  error as netError,
} from '@tsio/completion-token';
import type { AsyncStream } from '@tsio/net';
import {
  generateKey,
  HttpHeadParser,
  makeUpgradeRequest,
  type RequestType,
  type ResponseType,
  serializeRequest,
  validateUpgradeResponse,
} from './detail/handshake.js';
import { error, errorFromName } from './error.js';
import { type HandshakeHooks, reportHookError, type StreamImpl } from './impl.js';
import { writeAll } from './read.js';

export function startHandshake<Next extends AsyncStream, T extends CompletionToken<[]> = DefaultToken<[]>>(
  impl: StreamImpl<Next>,
  hooks: HandshakeHooks,
  host: string,
  target: string,
  resOut: ResponseType | undefined,
  token: T | undefined,
): AsyncResult<T, []> {
  return asyncCompose<[], T>(
    (self) => {
      impl.begin('client');
      impl.setTimer(impl.opts.timeout.handshakeTimeout);
      const key = generateKey();
      const parser = new HttpHeadParser('response', { headLimit: impl.opts.handshakeHeadLimit });
      const fail = (ec: ErrorCode) => {
        impl.clearTimer();
        self.complete(impl.stopError(ec));
      };
      // A host or target that cannot appear in a request head is an argument error, reported
      // through the handler like any other (never thrown from the initiating call).
      let req: RequestType;
      try {
        req = makeUpgradeRequest({ host, target, key });
      } catch {
        return fail(netError.invalidArgument);
      }
      try {
        hooks.decorateRequest(req);
      } catch (e) {
        // A throwing decorator fails the handshake before anything is sent (never thrown from here).
        reportHookError(e);
        return fail(error.handshakeHookFailed);
      }
      let head: Buffer;
      try {
        head = serializeRequest(req);
      } catch {
        return fail(netError.invalidArgument);
      }
      const onRead = self.bind((ec: ErrorCode | null, n: number) => {
        if (ec) return fail(ec);
        impl.rdEnd += n;
        parse();
      });
      const parse = () => {
        impl.rdPos += parser.feed(impl.rdBuf, impl.rdPos, impl.rdEnd);
        if (parser.error) return fail(errorFromName(parser.error));
        if (!parser.done) return impl.next.readSome(impl.prepareRead(), onRead);
        const res = parser.result as ResponseType;
        if (resOut) copyResponse(res, resOut);
        const bad = validateUpgradeResponse(res, key);
        if (bad) return fail(errorFromName(bad));
        const ext = hooks.onResponse(req, res);
        if (ext) return fail(ext);
        impl.clearTimer();
        impl.status = 'open';
        // As after an accept: no read buffer kept between the handshake and the first read.
        impl.shrinkReadBuffer();
        self.complete(null);
      };
      writeAll(
        impl.next,
        [head],
        self.bind((ec: ErrorCode | null) => {
          if (ec) return fail(ec);
          impl.next.readSome(impl.prepareRead(), onRead);
        }),
      );
    },
    token,
    impl.next,
  );
}

function copyResponse(from: ResponseType, to: ResponseType): void {
  to.status = from.status;
  to.reason = from.reason;
  to.version = from.version;
  to.body = from.body;
  for (const [name] of [...to.fields]) to.fields.erase(name);
  for (const [name, value] of from.fields) to.fields.insert(name, value);
}
