export type { ExecutionContext, Executor, ExecutorOrContext, Handler } from './executor.js';
export { isExecutor, toExecutor } from './executor.js';
export { defer, dispatch, makeWorkGuard, post, WorkGuard } from './functions.js';
export { IoContext } from './io-context.js';
export { makeStrand, Strand } from './strand.js';
export {
  DRAIN_BUDGET,
  defaultExecutor,
  type Runnable,
  SystemContext,
  systemContext,
} from './system-executor.js';
