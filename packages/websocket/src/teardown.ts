import {
  type AsyncResult,
  asyncCompose,
  type CompletionToken,
  type DefaultToken,
  type ErrorCode,
  error as netError,
} from '@tsio/completion-token';
import type { AsyncStream } from '@tsio/net';
import { lowestClosable, type Role } from './impl.js';

/**
 * Beast's teardown customization point (websocket/teardown.hpp): a next
 * layer with its own closing procedure (TLS sends close_notify) provides
 * `asyncTeardown`; any other stream gets the TCP procedure below.
 */
export interface Teardownable {
  asyncTeardown(role: Role, token: (ec: ErrorCode | null) => void): void;
}

/**
 * A TLS-like next layer (our `SslStream`, or a user's): `asyncShutdown`
 * sends its closing message (TLS close_notify) after what was written and
 * waits for the peer's, or its FIN. Beast's teardown for `ssl::stream`
 * (websocket/ssl.hpp) is exactly this shutdown, in either role.
 */
interface AsyncShutdownable {
  asyncShutdown(token: (ec: ErrorCode | null) => void): void;
}

interface Shutdownable {
  shutdown?: (what: 'send' | 'receive' | 'both') => void;
  shutdownSend?: () => void;
}

function shutdownSend(lowest: unknown): void {
  const s = lowest as Shutdownable;
  if (typeof s.shutdown === 'function') s.shutdown('send');
  else if (typeof s.shutdownSend === 'function') s.shutdownSend();
}

function lowestOf(s: unknown): unknown {
  let cur = s;
  while (typeof (cur as { nextLayer?: unknown }).nextLayer === 'function') {
    cur = (cur as { nextLayer(): unknown }).nextLayer();
  }
  return cur;
}

/**
 * Closes the connection under a websocket after the closing handshake
 * (Beast impl/teardown.hpp, RFC 6455 §7.1.1: the server closes TCP first).
 * Server: shut down sending, read to EOF, close. Client: read to EOF (the
 * server's FIN), shut down sending, close. EOF is success; bytes read on the
 * way are discarded. A next layer with `asyncShutdown` (TLS) is shut down
 * with it instead — close_notify both ways — and then closed.
 */
export function asyncTeardown<T extends CompletionToken<[]> = DefaultToken<[]>>(
  role: Role,
  next: AsyncStream,
  token?: T,
): AsyncResult<T, []> {
  const custom = next as Partial<Teardownable>;
  if (typeof custom.asyncTeardown === 'function') {
    return asyncCompose<[], T>((self) => {
      custom.asyncTeardown?.(role, (ec) => self.complete(ec));
    }, token);
  }
  const tls = next as Partial<AsyncShutdownable>;
  if (typeof tls.asyncShutdown === 'function') {
    return asyncCompose<[], T>((self) => {
      tls.asyncShutdown?.(
        self.bind((ec: ErrorCode | null) => {
          lowestClosable(next)?.close();
          self.complete(ec === netError.eof ? null : ec);
        }),
      );
    }, token);
  }
  const lowest = lowestOf(next);
  const scratch = Buffer.allocUnsafe(512);
  return asyncCompose<[], T>((self) => {
    if (role === 'server') shutdownSend(lowest);
    const finish = (ec: ErrorCode | null) => {
      if (role === 'client' && ec === null) shutdownSend(lowest);
      lowestClosable(next)?.close();
      self.complete(ec);
    };
    const drain = self.bind((ec: ErrorCode | null) => {
      if (ec === netError.eof) return finish(null);
      if (ec) return finish(ec);
      next.readSome(scratch, drain);
    });
    next.readSome(scratch, drain);
  }, token);
}
