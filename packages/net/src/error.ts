import { defineErrors, ErrorCategory } from '@tsio/completion-token';

/** Beast's `beast::error` category (core/error.hpp). */
export const beastCategory: ErrorCategory = new ErrorCategory('beast');

export const beastError = defineErrors(beastCategory, {
  /** The operation did not finish before the stream's expiry (`beast::error::timeout`). */
  timeout: 'The socket was closed due to a timeout',
});

/** Beast's `test::error` category, used by `TestStream`'s fail count. */
export const testCategory: ErrorCategory = new ErrorCategory('test');

export const testError = defineErrors(testCategory, {
  /** The error a `FailCount` injects (`beast::test::error::test_failure`). */
  testFailure: 'An automatic unit test failure occurred',
});
