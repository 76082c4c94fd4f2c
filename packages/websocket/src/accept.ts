/*
 * The server handshake (Beast impl/accept.hpp, RFC 6455 §4.2): read the
 * upgrade request (or take one already read or already parsed), validate it,
 * and answer 101, or refuse: 426 with `Sec-WebSocket-Version: 13` for a
 * version problem (§4.4), 400 with the reason otherwise. The request head is
 * bounded by `handshakeHeadLimit` and the handshake by `handshakeTimeout`.
 */
import {
  type AsyncResult,
  asyncCompose,
  type CompletionToken,
  type DefaultToken,
  type ErrorCode,
} from '@tsio/completion-token';
import type { AsyncStream } from '@tsio/net';
import {
  HttpHeadParser,
  makeRefusalResponse,
  makeUpgradeResponse,
  type RequestType,
  ResponseType,
  serializeResponse,
  validateUpgradeRequest,
} from './detail/handshake.js';
import { error, errorFromName } from './error.js';
import { type HandshakeHooks, type Refusal, reportHookError, type StreamImpl } from './impl.js';
import { writeAll } from './read.js';

/** What `asyncAccept` starts from: nothing read yet, bytes already read, or a parsed request. */
export type AcceptInput = { bytes?: Uint8Array; request?: RequestType };

export function startAccept<Next extends AsyncStream, T extends CompletionToken<[]> = DefaultToken<[]>>(
  impl: StreamImpl<Next>,
  hooks: HandshakeHooks,
  input: AcceptInput,
  token: T | undefined,
): AsyncResult<T, []> {
  return asyncCompose<[], T>(
    (self) => {
      impl.begin('server');
      impl.setTimer(impl.opts.timeout.handshakeTimeout);
      const fail = (ec: ErrorCode) => {
        impl.clearTimer();
        self.complete(impl.stopError(ec));
      };
      const respond = (req: RequestType) => {
        const bad = validateUpgradeRequest(req);
        let res: ResponseType;
        let result: ErrorCode | null = null;
        if (bad) {
          res = makeRefusalResponse(bad);
          result = errorFromName(bad);
        } else {
          res = makeUpgradeResponse(req);
          let refusal: Refusal | null = null;
          try {
            refusal = hooks.onRequest(req, res);
          } catch (e) {
            reportHookError(e);
            res = makeRefusalResponse('handshakeHookFailed');
            result = error.handshakeHookFailed;
          }
          if (refusal) {
            const refused = new ResponseType();
            refused.status = refusal.status;
            refused.reason = refusal.reason;
            refused.body = refusal.body ?? '';
            res = refused;
            result = error.upgradeDeclined;
          }
        }
        if (!decorate(hooks, res)) {
          res = makeRefusalResponse('handshakeHookFailed');
          result = error.handshakeHookFailed;
        }
        writeAll(
          impl.next,
          [serializeResponse(res)],
          self.bind((ec: ErrorCode | null) => {
            if (ec) return fail(ec);
            if (result) return fail(result);
            impl.clearTimer();
            impl.status = 'open';
            // Nothing past the request head: let the read buffer go now rather than
            // at the first read, so a stream accepted and not yet read holds none.
            impl.shrinkReadBuffer();
            self.complete(null);
          }),
        );
      };
      if (input.request) return respond(input.request);
      if (input.bytes) impl.appendRead(input.bytes);
      const parser = new HttpHeadParser('request', { headLimit: impl.opts.handshakeHeadLimit });
      const onRead = self.bind((ec: ErrorCode | null, n: number) => {
        if (ec) return fail(ec);
        impl.rdEnd += n;
        parse();
      });
      const parse = () => {
        if (impl.rdEnd > impl.rdPos) impl.rdPos += parser.feed(impl.rdBuf, impl.rdPos, impl.rdEnd);
        if (parser.error) {
          // A head we cannot parse gets a plain 400 before the error is reported.
          const ec = errorFromName(parser.error);
          let res = makeRefusalResponse(parser.error);
          if (!decorate(hooks, res)) res = makeRefusalResponse('handshakeHookFailed');
          return writeAll(
            impl.next,
            [serializeResponse(res)],
            self.bind(() => fail(ec)),
          );
        }
        if (!parser.done) return impl.next.readSome(impl.prepareRead(), onRead);
        respond(parser.result as RequestType);
      };
      parse();
    },
    token,
    impl.next,
  );
}

/**
 * The user's response decorator, which may throw: false then (the response
 * is answered 500 instead and the accept fails with handshakeHookFailed).
 */
function decorate(hooks: HandshakeHooks, res: ResponseType): boolean {
  try {
    hooks.decorateResponse(res);
    return true;
  } catch (e) {
    reportHookError(e);
    return false;
  }
}
